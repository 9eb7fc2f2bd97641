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
	"github.com/acme/platform/services/users/internal/app"
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

const userColumns = `id::text, email, display_name, region, roles, created_at, email_verified_at IS NOT NULL`

func scanUser(row pgx.Row, extra ...any) (user.User, error) {
	var u user.User
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.DisplayName, &u.Region, &u.Roles, &u.CreatedAt, &u.EmailVerified}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, errs.NotFound("user.not_found", "no such user")
	}
	return u, err
}

// ByEmail returns the account with this normalised email and its password hash.
func (r PostgresUsers) ByEmail(ctx context.Context, email string) (user.User, string, error) {
	var hash string
	u, err := scanUser(r.Pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = $1 AND erased_at IS NULL`, email), &hash)
	return u, hash, err
}

// ByID returns one account.
func (r PostgresUsers) ByID(ctx context.Context, id string) (user.User, error) {
	return scanUser(r.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND erased_at IS NULL`, id))
}

// PasswordHash returns the account's current password hash.
func (r PostgresUsers) PasswordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := r.Pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 AND erased_at IS NULL`, id).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.NotFound("user.not_found", "no such user")
	}
	return hash, err
}

// update runs one UPDATE of a live account and its events in a transaction.
func (r PostgresUsers) update(ctx context.Context, evs []outbox.Event, sql string, args ...any) error {
	return pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errs.NotFound("user.not_found", "no such user")
		}
		return r.Outbox.Add(ctx, tx, evs...)
	})
}

// MarkVerified records that the email address is confirmed.
func (r PostgresUsers) MarkVerified(ctx context.Context, id string, evs []outbox.Event) error {
	return r.update(ctx, evs, `UPDATE users SET email_verified_at = now(), updated_at = now(), version = version + 1
		WHERE id = $1 AND erased_at IS NULL`, id)
}

// SetPassword replaces the password hash.
func (r PostgresUsers) SetPassword(ctx context.Context, id, hash string, evs []outbox.Event) error {
	return r.update(ctx, evs, `UPDATE users SET password_hash = $2, updated_at = now(), version = version + 1
		WHERE id = $1 AND erased_at IS NULL`, id, hash)
}

// SetRoles replaces the platform roles.
func (r PostgresUsers) SetRoles(ctx context.Context, id string, roles []string, evs []outbox.Event) error {
	return r.update(ctx, evs, `UPDATE users SET roles = $2, updated_at = now(), version = version + 1
		WHERE id = $1 AND erased_at IS NULL`, id, roles)
}

// ClaimBootstrap grants roles to id if no bootstrap happened before: the bootstrap row and the
// roles are written in one transaction, once ever.
func (r PostgresUsers) ClaimBootstrap(ctx context.Context, id string, roles []string, evs []outbox.Event) (bool, error) {
	claimed := false
	err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO bootstrap_admin (id, user_id) VALUES (1, $1) ON CONFLICT DO NOTHING`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET roles = $2, updated_at = now(), version = version + 1
			WHERE id = $1 AND erased_at IS NULL`, id, roles); err != nil {
			return err
		}
		claimed = true
		return r.Outbox.Add(ctx, tx, evs...)
	})
	return claimed, err
}

// Erase overwrites everything personal: the address becomes erased+<id>@erased.invalid (unique,
// undeliverable), the name goes, the password hash becomes one no password matches.
func (r PostgresUsers) Erase(ctx context.Context, id string, evs []outbox.Event) error {
	return r.update(ctx, evs, `UPDATE users SET email = 'erased+' || id::text || '@erased.invalid', display_name = '',
		password_hash = '!', roles = '{}', email_verified_at = NULL, erased_at = now(), updated_at = now(), version = version + 1
		WHERE id = $1 AND erased_at IS NULL`, id)
}

// Record writes events that accompany no row change.
func (r PostgresUsers) Record(ctx context.Context, evs []outbox.Event) error {
	return pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error { return r.Outbox.Add(ctx, tx, evs...) })
}

// Scan reads accounts after afterID in id order; erased ones are left out.
func (r PostgresUsers) Scan(ctx context.Context, afterID string, limit int) ([]app.Scanned, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := r.Pool.Query(ctx, `SELECT id::text, display_name, created_at, version FROM users
		WHERE id > $1 AND erased_at IS NULL ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (app.Scanned, error) {
		var u app.Scanned
		return u, row.Scan(&u.ID, &u.DisplayName, &u.CreatedAt, &u.Version)
	})
}
