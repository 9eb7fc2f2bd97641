// Package pgtest gives a test its own fresh PostgreSQL database on the local server, migrated with
// the given sets and dropped when the test ends.
package pgtest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/platform/postgres"
)

// New returns a pool on a fresh database migrated with sets.
func New(t testing.TB, sets ...postgres.Migrations) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, drop, err := postgres.CreateDatabase(ctx, "acme_test")
	if err != nil {
		t.Fatalf("test database (is PostgreSQL up? make infra starts it): %v", err)
	}
	pool, err := postgres.Open(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), url, sets...)
	if err != nil {
		_ = drop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if err := drop(context.Background()); err != nil {
			t.Logf("drop test database: %v", err)
		}
	})
	return pool
}
