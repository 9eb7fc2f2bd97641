// Package adapters implements the users app's ports: PostgreSQL for accounts (with the outbox),
// the Dapr state store for sessions, argon2id for passwords, EdDSA JWTs for access tokens.
package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// PostgresUsers stores accounts in the users database.
type PostgresUsers struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Writer
}

// Create inserts the account and its events in one transaction.
func (r PostgresUsers) Create(ctx context.Context, u user.User, hash string, evs []outbox.Event) error {
	return pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id, email, display_name, region, roles, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, u.ID, u.Email, u.DisplayName, u.Region, u.Roles, hash, u.CreatedAt)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "users_email" {
			return errs.Conflict("user.email_taken", "an account with this email already exists")
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return r.Outbox.Add(ctx, tx, evs...)
	})
}

const userColumns = `id::text, email, display_name, region, roles, created_at`

func scanUser(row pgx.Row, extra ...any) (user.User, error) {
	var u user.User
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.DisplayName, &u.Region, &u.Roles, &u.CreatedAt}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, errs.NotFound("user.not_found", "no such user")
	}
	return u, err
}

// ByEmail returns the account with this normalised email and its password hash.
func (r PostgresUsers) ByEmail(ctx context.Context, email string) (user.User, string, error) {
	var hash string
	u, err := scanUser(r.Pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = $1`, email), &hash)
	return u, hash, err
}

// ByID returns one account.
func (r PostgresUsers) ByID(ctx context.Context, id string) (user.User, error) {
	return scanUser(r.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// Record writes events that accompany no row change.
func (r PostgresUsers) Record(ctx context.Context, evs []outbox.Event) error {
	return pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error { return r.Outbox.Add(ctx, tx, evs...) })
}
