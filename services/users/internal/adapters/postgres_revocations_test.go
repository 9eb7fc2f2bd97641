package adapters_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/postgres/pgtest"
	"github.com/acme/platform/services/users/internal/adapters"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/migrations"
)

func ids(rs []app.Revocation) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.SessionID)
	}
	return out
}

// The feed lists what was revoked since a time, oldest first, only while a token of the session can
// still be valid; a limit bounds a page; purge forgets what expired.
func TestRevocations_SinceLimitAndPurge(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_users"})
	r := adapters.PostgresRevocations{Pool: pool}
	now := time.Now()
	if err := r.Record(ctx, []string{"s1", "s2"}, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := r.Record(ctx, []string{"expired"}, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	all, asOf, err := r.Since(ctx, time.Time{}, 10)
	if err != nil || !slices.Equal(ids(all), []string{"s1", "s2"}) || asOf.Before(all[1].RevokedAt) {
		t.Fatalf("everything relevant: %v at %v, %v", ids(all), asOf, err)
	}
	if page, _, err := r.Since(ctx, time.Time{}, 1); err != nil || len(page) != 1 {
		t.Fatalf("a page of one: %v %v", ids(page), err)
	}
	if err := r.Record(ctx, []string{"s3"}, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	later, _, err := r.Since(ctx, asOf, 10)
	if err != nil || !slices.Equal(ids(later), []string{"s3"}) {
		t.Fatalf("since the last read: %v %v", ids(later), err)
	}
	if n, err := r.Purge(ctx, now); err != nil || n != 1 {
		t.Fatalf("purged %d %v, want the expired one", n, err)
	}
}
