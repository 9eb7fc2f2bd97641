package adapters_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/postgres/pgtest"
	"github.com/acme/platform/services/users/internal/adapters"
	"github.com/acme/platform/services/users/internal/domain/user"
	"github.com/acme/platform/services/users/migrations"
)

func newRepo(t *testing.T) adapters.PostgresUsers {
	pool := pgtest.New(t, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_users"})
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return adapters.PostgresUsers{Pool: pool, Outbox: outbox.NewWriter(codec)}
}

func newUser(email string) user.User {
	return user.User{ID: uuid.NewString(), Email: email, DisplayName: "D", Region: "eu", Roles: []string{"member"},
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func registered(u user.User) []outbox.Event {
	return []outbox.Event{{Topic: events.TopicUsers, Envelope: events.Envelope{EventID: uuid.NewString(), Type: "user.registered",
		OccurredAt: u.CreatedAt, Subject: u.ID, Actor: u.ID, Region: u.Region, AggregateVersion: 1,
		Payload: events.UserRegistered{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName}}}}
}

func TestPostgresUsers_CreateStoresAccountAndEventTogether(t *testing.T) {
	repo := newRepo(t)
	ctx := context.Background()
	u := newUser("ada@example.com")
	if err := repo.Create(ctx, u, "hash", registered(u)); err != nil {
		t.Fatal(err)
	}
	got, hash, err := repo.ByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || hash != "hash" || got.Region != "eu" || len(got.Roles) != 1 || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("got %+v %q", got, hash)
	}
	if byID, err := repo.ByID(ctx, u.ID); err != nil || byID.Email != u.Email {
		t.Fatalf("by id %+v %v", byID, err)
	}
	if n, _ := outbox.Pending(ctx, repo.Pool); n != 1 {
		t.Fatalf("%d outbox rows, want 1", n)
	}
}

func TestPostgresUsers_DuplicateEmailWritesNothing(t *testing.T) {
	repo := newRepo(t)
	ctx := context.Background()
	first := newUser("dup@example.com")
	if err := repo.Create(ctx, first, "h", registered(first)); err != nil {
		t.Fatal(err)
	}
	second := newUser("dup@example.com")
	err := repo.Create(ctx, second, "h", registered(second))
	if e := errs.As(err); e.Kind != errs.KindConflict || e.Code != "user.email_taken" {
		t.Fatalf("got %v, want user.email_taken", err)
	}
	if n, _ := outbox.Pending(ctx, repo.Pool); n != 1 {
		t.Fatalf("%d outbox rows after the refused duplicate, want 1", n)
	}
	if _, err := repo.ByID(ctx, second.ID); errs.As(err).Kind != errs.KindNotFound {
		t.Fatalf("second account exists: %v", err)
	}
}

func TestPostgresUsers_UnknownIsNotFound(t *testing.T) {
	repo := newRepo(t)
	if _, _, err := repo.ByEmail(context.Background(), "nobody@example.com"); errs.As(err).Code != "user.not_found" {
		t.Fatalf("got %v", err)
	}
	if _, err := repo.ByID(context.Background(), uuid.NewString()); errs.As(err).Code != "user.not_found" {
		t.Fatalf("got %v", err)
	}
}

func TestPostgresUsers_ScanLeavesErasedAccountsOut(t *testing.T) {
	repo := newRepo(t)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		u := newUser(fmt.Sprintf("scan%d@example.com", i))
		if err := repo.Create(ctx, u, "hash", registered(u)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if err := repo.Erase(ctx, ids[2], nil); err != nil {
		t.Fatal(err)
	}
	var seen []string
	after := ""
	for {
		rows, err := repo.Scan(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen = append(seen, r.ID)
			if r.DisplayName != "D" || r.Version != 1 || r.CreatedAt.IsZero() {
				t.Errorf("scanned %+v", r)
			}
		}
		if len(rows) < 2 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	want := []string{ids[0], ids[1], ids[3]}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("scan gave %v, want %v (in id order, the erased one left out)", seen, want)
	}
}
