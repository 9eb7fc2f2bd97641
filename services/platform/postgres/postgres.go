// Package postgres opens a service's own PostgreSQL database and migrates it with goose. Each service
// embeds its migrations; the platform adds its own (the outbox) under a separate version table, so a
// service's migration history stays its own.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// Migrations is one embedded set of goose SQL files and the table that records which ran.
type Migrations struct {
	FS    fs.FS
	Table string
}

// Open connects to url, waits (bounded by ctx) for the server, and applies every migration set in
// order.
func Open(ctx context.Context, log *slog.Logger, url string, sets ...Migrations) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	// A span per statement (BEGIN and COMMIT included) inside a recorded request's trace, none
	// outside one; the statement's text without its arguments. Pool acquisition gets no span of its own.
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTrimSQLInSpanName(), otelpgx.WithDisableAcquireTracer())
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for {
		err = pool.Ping(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("database not reachable: %w", errors.Join(err, ctx.Err()))
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err := Migrate(ctx, log, pool, sets...); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Migrate applies each migration set, in order, each under its own version table.
func Migrate(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, sets ...Migrations) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, set := range sets {
		if err := migrate(ctx, log, db, set); err != nil {
			return err
		}
	}
	return nil
}

func migrate(ctx context.Context, log *slog.Logger, db *sql.DB, set Migrations) error {
	store, err := database.NewStore(goose.DialectPostgres, set.Table)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider("", db, set.FS, goose.WithStore(store))
	if err != nil {
		return fmt.Errorf("migrations %s: %w", set.Table, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", set.Table, err)
	}
	for _, r := range results {
		log.Info("migration applied", "table", set.Table, "version", r.Source.Version, "file", r.Source.Path)
	}
	return nil
}
