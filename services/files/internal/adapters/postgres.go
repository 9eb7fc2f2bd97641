// Package adapters implements the files app's ports: PostgreSQL, S3 (aws-sdk-go-v2), ClamAV over
// its socket, projects and billing through Dapr, and thumbnails.
package adapters

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	declared_type, state, scan_result, object_key, thumb_key, created_at, upload_id, received`

func scan(row pgx.Row) (file.File, error) {
	var f file.File
	err := row.Scan(&f.ID, &f.ProjectID, &f.OwnerID, &f.AccountID, &f.Name, &f.Size, &f.SHA256, &f.ContentType,
		&f.DeclaredType, &f.State, &f.ScanResult, &f.Key, &f.ThumbKey, &f.CreatedAt, &f.UploadID, &f.Received)
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
		declared_type, state, scan_result, object_key, thumb_key, created_at, upload_id, received)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		f.ID, f.ProjectID, f.OwnerID, f.AccountID, f.Name, f.Size, f.SHA256, f.ContentType, f.DeclaredType, f.State, f.ScanResult,
		f.Key, f.ThumbKey, f.CreatedAt, f.UploadID, f.Received)
	return err
}

func (p Postgres) Save(ctx context.Context, f file.File, evs ...outbox.Event) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE files SET name = $2, size_bytes = $3, sha256 = $4, content_type = $5, state = $6,
		scan_result = $7, object_key = $8, thumb_key = $9, received = $10 WHERE id = $1`,
			f.ID, f.Name, f.Size, f.SHA256, f.ContentType, f.State, f.ScanResult, f.Key, f.ThumbKey, f.Received); err != nil {
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

func (p Postgres) Scan(ctx context.Context, afterID string, limit int) ([]file.File, error) {
	if afterID == "" {
		return p.query(ctx, `WHERE state = 'clean' ORDER BY id LIMIT $1`, limit)
	}
	return p.query(ctx, `WHERE state = 'clean' AND id > $1::uuid ORDER BY id LIMIT $2`, afterID, limit)
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

func (p Postgres) Abandoned(ctx context.Context, cutoff, resumableCutoff time.Time, limit int) ([]file.File, error) {
	return p.query(ctx, `WHERE state = 'quarantined' AND created_at < CASE WHEN upload_id = '' THEN $1::timestamptz ELSE $2::timestamptz END
		ORDER BY created_at LIMIT $3`, cutoff, resumableCutoff, limit)
}

func (p Postgres) Reassign(ctx context.Context, projectID, accountID string) (int64, error) {
	tag, err := p.Pool.Exec(ctx, `UPDATE files SET account_id = $2 WHERE project_id = $1 AND account_id <> $2`, projectID, accountID)
	return tag.RowsAffected(), err
}

func (p Postgres) SetReceived(ctx context.Context, id string, received int64) error {
	_, err := p.Pool.Exec(ctx, `UPDATE files SET received = $2 WHERE id = $1 AND state = 'quarantined'`, id, received)
	return err
}

func (p Postgres) Unfinished(ctx context.Context, limit int) ([]file.File, error) {
	return p.query(ctx, `WHERE state = 'quarantined' AND upload_id <> '' AND received = size_bytes ORDER BY created_at LIMIT $1`, limit)
}

// Exclusive runs fn holding a session advisory lock on key, on a connection of its own, so that the
// lock holds however long fn streams (no transaction stays open meanwhile). With wait 0 a key another
// holds is refused at once: a second writer of one upload is told to come back, never queued behind
// the first. With a wait, the lock is waited for that long (PostgreSQL's lock_timeout).
func (p Postgres) Exclusive(ctx context.Context, key string, wait time.Duration, fn func(context.Context) error) error {
	conn, err := p.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	got := true
	if wait <= 0 {
		err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&got)
	} else {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(wait.Milliseconds(), 10)+"ms"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key) // session-level: outlives the transaction
			return err
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			got, err = false, nil
		}
	}
	if err != nil {
		return err
	}
	if !got {
		return errs.Conflict("uploads.locked", "another request is writing this upload; retry after it ends")
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // a lock that cannot be released goes with its connection
		}
	}()
	return fn(ctx)
}
