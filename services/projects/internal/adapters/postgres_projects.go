// Package adapters implements the projects app's ports: PostgreSQL (with the outbox), the users
// service through Dapr, and the settings JSON Schema.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/platform/services/platform/postgres"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/projects/internal/app"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Postgres stores projects and members in the projects database.
type Postgres struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Writer
}

const projectColumns = `p.id::text, p.owner_id::text, p.name, p.slug, p.description, p.visibility, p.tags, p.settings,
	p.archived, p.version, p.created_at, p.updated_at`

func scanProject(row pgx.Row, extra ...any) (project.Project, error) {
	var p project.Project
	var vis string
	err := row.Scan(append([]any{&p.ID, &p.OwnerID, &p.Name, &p.Slug, &p.Description, &vis, &p.Tags, &p.Settings,
		&p.Archived, &p.Version, &p.CreatedAt, &p.UpdatedAt}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, errs.NotFound("project.not_found", "no such project")
	}
	p.Visibility = project.Visibility(vis)
	if p.Tags == nil {
		p.Tags = []string{}
	}
	return p, err
}

// Get reads a project.
func (s Postgres) Get(ctx context.Context, id string) (project.Project, error) {
	return scanProject(s.Pool.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects p WHERE p.id = $1`, id))
}

// GetAs reads the project and the user's role in it with one query.
func (s Postgres) GetAs(ctx context.Context, id, userID string) (project.Project, project.Role, error) {
	var r string
	p, err := scanProject(s.Pool.QueryRow(ctx, `SELECT `+projectColumns+`, COALESCE(m.role, '') FROM projects p
		LEFT JOIN members m ON m.project_id = p.id AND m.user_id::text = $2 WHERE p.id = $1`, id, userID), &r)
	return p, project.Role(r), err
}

func role(ctx context.Context, q postgres.Querier, projectID, userID string) (project.Role, error) {
	var r string
	err := q.QueryRow(ctx, `SELECT role FROM members WHERE project_id = $1 AND user_id = $2`, projectID, userID).Scan(&r)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return project.Role(r), err
}

// Role is the user's role in the project, "" when not a member.
func (s Postgres) Role(ctx context.Context, projectID, userID string) (project.Role, error) {
	return role(ctx, s.Pool, projectID, userID)
}

// Members lists a project's members, owners first, then by when they joined.
func (s Postgres) Members(ctx context.Context, projectID string) ([]project.Member, error) {
	return members(ctx, s.Pool, projectID)
}

func members(ctx context.Context, q postgres.Querier, projectID string) ([]project.Member, error) {
	rows, err := q.Query(ctx, `SELECT user_id::text, role, added_at FROM members WHERE project_id = $1
		ORDER BY array_position(ARRAY['owner','admin','editor','viewer'], role), added_at, user_id`, projectID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (project.Member, error) {
		var m project.Member
		var role string
		err := r.Scan(&m.UserID, &role, &m.AddedAt)
		m.Role = project.Role(role)
		return m, err
	})
}

// MembershipsOf lists the projects userID belongs to.
func (s Postgres) MembershipsOf(ctx context.Context, userID string) ([]app.Membership, error) {
	rows, err := s.Pool.Query(ctx, `SELECT p.id::text, p.name, m.role, m.added_at FROM members m JOIN projects p ON p.id = m.project_id
		WHERE m.user_id = $1 ORDER BY m.added_at, p.id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Membership, error) {
		var m app.Membership
		var role string
		err := r.Scan(&m.ProjectID, &m.ProjectName, &role, &m.Member.AddedAt)
		m.Member.UserID, m.Member.Role = userID, project.Role(role)
		return m, err
	})
}

// Scan reads projects after afterID in id order, then all their members in one more query.
func (s Postgres) Scan(ctx context.Context, afterID string, limit int) ([]app.Scanned, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+projectColumns+` FROM projects p WHERE p.id > $1 ORDER BY p.id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (project.Project, error) { return scanProject(r) })
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	mrows, err := s.Pool.Query(ctx, `SELECT project_id::text, user_id::text, role, added_at FROM members
		WHERE project_id = ANY($1::uuid[]) ORDER BY project_id, user_id`, ids)
	if err != nil {
		return nil, err
	}
	byProject := map[string][]project.Member{}
	var pid, role string
	var m project.Member
	if _, err := pgx.ForEachRow(mrows, []any{&pid, &m.UserID, &role, &m.AddedAt}, func() error {
		m.Role = project.Role(role)
		byProject[pid] = append(byProject[pid], m)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]app.Scanned, len(ps))
	for i, p := range ps {
		out[i] = app.Scanned{Project: p, Members: byProject[p.ID]}
	}
	return out, nil
}

var sortColumns = map[string]string{"name": "p.name", "created_at": "p.created_at", "updated_at": "p.updated_at"}

// List pages through the projects userID is a member of, by keyset on (sort column, id).
func (s Postgres) List(ctx context.Context, userID string, q app.ListQuery) ([]app.WithRole, error) {
	col := sortColumns[q.Sort]
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	args := []any{userID, q.IncludeArchived, q.Limit}
	where := ""
	if q.After != nil {
		var key any = q.After.Time
		if q.Sort == "name" {
			key = q.After.Name
		}
		args = append(args, key, q.After.ID)
		where = fmt.Sprintf(" AND (%s, p.id) %s ($4, $5::uuid)", col, cmp)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+projectColumns+`, m.role FROM projects p
		JOIN members m ON m.project_id = p.id AND m.user_id = $1
		WHERE ($2 OR NOT p.archived)`+where+`
		ORDER BY `+col+` `+dir+`, p.id `+dir+` LIMIT $3`, args...)
	if err != nil {
		return nil, err
	}
	return collectWithRole(rows)
}

func collectWithRole(rows pgx.Rows) ([]app.WithRole, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.WithRole, error) {
		var role string
		p, err := scanProject(r, &role)
		return app.WithRole{Project: p, Role: project.Role(role)}, err
	})
}

// Search finds userID's projects by trigram similarity of the name. word_similarity lets a short
// query match a word inside a long name; the GIN trigram index serves both operators. The
// word-similarity threshold is lowered from pg_trgm's 0.6 to 0.5 for this transaction only, so a
// swapped pair of letters ("platfrom" for "platform", 0.56) still matches.
func (s Postgres) Search(ctx context.Context, userID, query string, limit int) ([]app.WithRole, error) {
	var out []app.WithRole
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('pg_trgm.word_similarity_threshold', '0.5', true)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+projectColumns+`, m.role FROM projects p
			JOIN members m ON m.project_id = p.id AND m.user_id = $1
			WHERE p.name % $2 OR $2 <% p.name
			ORDER BY greatest(similarity(p.name, $2), word_similarity($2, p.name)) DESC, p.name, p.id
			LIMIT $3`, userID, strings.TrimSpace(query), limit)
		if err != nil {
			return err
		}
		out, err = collectWithRole(rows)
		return err
	})
	return out, err
}

// InTx runs fn in a transaction.
func (s Postgres) InTx(ctx context.Context, fn func(app.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return fn(pgTx{tx: tx, outbox: s.Outbox}) })
}

type pgTx struct {
	tx     pgx.Tx
	outbox *outbox.Writer
}

func (t pgTx) Lock(ctx context.Context, id string) (project.Project, error) {
	return scanProject(t.tx.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects p WHERE p.id = $1 FOR UPDATE`, id))
}

func (t pgTx) Role(ctx context.Context, projectID, userID string) (project.Role, error) {
	return role(ctx, t.tx, projectID, userID)
}

func (t pgTx) Owners(ctx context.Context, projectID string) ([]string, error) {
	rows, err := t.tx.Query(ctx, `SELECT user_id::text FROM members WHERE project_id = $1 AND role = 'owner'`, projectID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func slugTaken(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "projects_owner_slug" {
		return errs.Conflict("project.slug_taken", "the owner already has a project with this slug")
	}
	return err
}

func (t pgTx) Members(ctx context.Context, projectID string) ([]project.Member, error) {
	return members(ctx, t.tx, projectID)
}

func (t pgTx) SlugTaken(ctx context.Context, ownerID, slug, exceptID string) (bool, error) {
	var taken bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM projects WHERE owner_id = $1 AND slug = $2 AND id <> $3)`,
		ownerID, slug, exceptID).Scan(&taken)
	return taken, err
}

func (t pgTx) CountOwned(ctx context.Context, ownerID string) (int64, error) {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('projects-owner:' || $1, 0))`, ownerID); err != nil {
		return 0, err
	}
	var n int64
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM projects WHERE owner_id = $1`, ownerID).Scan(&n)
	return n, err
}

func (t pgTx) Insert(ctx context.Context, p project.Project) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO projects (id, owner_id, name, slug, description, visibility, tags, settings,
		archived, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		p.ID, p.OwnerID, p.Name, p.Slug, p.Description, string(p.Visibility), p.Tags, p.Settings, p.Archived, p.Version,
		p.CreatedAt, p.UpdatedAt)
	return slugTaken(err)
}

func (t pgTx) Save(ctx context.Context, p project.Project) error {
	_, err := t.tx.Exec(ctx, `UPDATE projects SET owner_id = $2, name = $3, description = $4, visibility = $5, tags = $6,
		settings = $7, archived = $8, version = $9, updated_at = $10, slug = $11 WHERE id = $1`,
		p.ID, p.OwnerID, p.Name, p.Description, string(p.Visibility), p.Tags, p.Settings, p.Archived, p.Version, p.UpdatedAt, p.Slug)
	return slugTaken(err)
}

func (t pgTx) Delete(ctx context.Context, id string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM projects WHERE id = $1`, id)
	return err
}

func (t pgTx) PutMember(ctx context.Context, projectID string, m project.Member) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, coalesce($4, now()))
		ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`, projectID, m.UserID, string(m.Role), nullTime(m))
	return err
}

func nullTime(m project.Member) any {
	if m.AddedAt.IsZero() {
		return nil
	}
	return m.AddedAt
}

func (t pgTx) DeleteMember(ctx context.Context, projectID, userID string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM members WHERE project_id = $1 AND user_id = $2`, projectID, userID)
	return err
}

func (t pgTx) Publish(ctx context.Context, evs ...outbox.Event) error {
	return t.outbox.Add(ctx, t.tx, evs...)
}
