package adapters

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/users/internal/app"
)

// PostgresRevocations keeps the revocation feed in users' database (session_revocations).
type PostgresRevocations struct {
	Pool *pgxpool.Pool
}

var _ app.Revocations = PostgresRevocations{}

func (p PostgresRevocations) Record(ctx context.Context, ids []string, until time.Time) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO session_revocations (session_id, expires_at) SELECT unnest($1::text[]), $2`, ids, until)
	return err
}

func (p PostgresRevocations) Since(ctx context.Context, since time.Time, limit int) ([]app.Revocation, time.Time, error) {
	var out []app.Revocation
	var asOf time.Time
	err := pgx.BeginTxFunc(ctx, p.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&asOf); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT session_id, revoked_at, expires_at FROM session_revocations
			WHERE revoked_at >= $1 AND expires_at > $2 ORDER BY revoked_at LIMIT $3`, since, asOf, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Revocation, error) {
			var v app.Revocation
			return v, r.Scan(&v.SessionID, &v.RevokedAt, &v.ExpiresAt)
		})
		return err
	})
	return out, asOf, err
}

func (p PostgresRevocations) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := p.Pool.Exec(ctx, `DELETE FROM session_revocations WHERE expires_at < $1`, before)
	return tag.RowsAffected(), err
}
