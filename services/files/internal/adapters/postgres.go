// Package adapters implements the files app's ports: PostgreSQL, S3 (aws-sdk-go-v2), ClamAV over
// its socket, projects and billing through Dapr, and thumbnails.
package adapters

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/files/internal/app"
	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
)

// Postgres keeps files' metadata in the files database, with its outbox.
type Postgres struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Writer
}

const columns = `id::text, project_id::text, owner_id::text, account_id::text, name, size_bytes, sha256, content_type,
	declared_type, state, scan_result, object_key, thumb_key, created_at`

func scan(row pgx.Row) (file.File, error) {
	var f file.File
	err := row.Scan(&f.ID, &f.ProjectID, &f.OwnerID, &f.AccountID, &f.Name, &f.Size, &f.SHA256, &f.ContentType,
		&f.DeclaredType, &f.State, &f.ScanResult, &f.Key, &f.ThumbKey, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, errs.NotFound("files.not_found", "no such file")
	}
	return f, err
}

func (p Postgres) query(ctx context.Context, sql string, args ...any) ([]file.File, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+columns+` FROM files `+sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (file.File, error) { return scan(r) })
}

func (p Postgres) Insert(ctx context.Context, f file.File) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO files (id, project_id, owner_id, account_id, name, size_bytes, sha256, content_type,
		declared_type, state, scan_result, object_key, thumb_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		f.ID, f.ProjectID, f.OwnerID, f.AccountID, f.Name, f.Size, f.SHA256, f.ContentType, f.DeclaredType, f.State, f.ScanResult,
		f.Key, f.ThumbKey, f.CreatedAt)
	return err
}

func (p Postgres) Save(ctx context.Context, f file.File, evs ...outbox.Event) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE files SET name = $2, size_bytes = $3, sha256 = $4, content_type = $5, state = $6,
		scan_result = $7, object_key = $8, thumb_key = $9 WHERE id = $1`,
			f.ID, f.Name, f.Size, f.SHA256, f.ContentType, f.State, f.ScanResult, f.Key, f.ThumbKey); err != nil {
			return err
		}
		return p.Outbox.Add(ctx, tx, evs...)
	})
}

func (p Postgres) Get(ctx context.Context, id string) (file.File, error) {
	return scan(p.Pool.QueryRow(ctx, `SELECT `+columns+` FROM files WHERE id = $1`, id))
}

func (p Postgres) List(ctx context.Context, projectID string, after *app.Cursor, limit int) ([]file.File, error) {
	if after == nil {
		return p.query(ctx, `WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, projectID, limit)
	}
	return p.query(ctx, `WHERE project_id = $1 AND (created_at, id) < ($2, $3::uuid) ORDER BY created_at DESC, id DESC LIMIT $4`,
		projectID, after.CreatedAt, after.ID, limit)
}

func (p Postgres) Delete(ctx context.Context, id string, evs ...outbox.Event) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM files WHERE id = $1`, id); err != nil {
			return err
		}
		return p.Outbox.Add(ctx, tx, evs...)
	})
}

func (p Postgres) UsedBytes(ctx context.Context, accountID string) (int64, error) {
	var n int64
	err := p.Pool.QueryRow(ctx, `SELECT COALESCE(sum(size_bytes), 0) FROM files WHERE account_id = $1 AND state <> 'infected'`,
		accountID).Scan(&n)
	return n, err
}

func (p Postgres) OfOwner(ctx context.Context, userID string) ([]file.File, error) {
	return p.query(ctx, `WHERE owner_id = $1`, userID)
}

func (p Postgres) OfProject(ctx context.Context, projectID string) ([]file.File, error) {
	return p.query(ctx, `WHERE project_id = $1`, projectID)
}

func (p Postgres) Abandoned(ctx context.Context, cutoff time.Time, limit int) ([]file.File, error) {
	return p.query(ctx, `WHERE state = 'quarantined' AND created_at < $1 ORDER BY created_at LIMIT $2`, cutoff, limit)
}
