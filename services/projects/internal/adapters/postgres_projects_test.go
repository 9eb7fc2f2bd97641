package adapters_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/postgres/pgtest"
	"github.com/acme/platform/services/projects/internal/adapters"
	"github.com/acme/platform/services/projects/internal/app"
	"github.com/acme/platform/services/projects/internal/domain/project"
	"github.com/acme/platform/services/projects/migrations"
)

type allUsersExist struct{}

func (allUsersExist) Exists(context.Context, string) (bool, error) { return true, nil }

func newService(t *testing.T) (*app.Service, adapters.Postgres) {
	t.Helper()
	pool := pgtest.New(t, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_projects"})
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	settings, err := adapters.NewSettingsSchema()
	if err != nil {
		t.Fatal(err)
	}
	store := adapters.Postgres{Pool: pool, Outbox: outbox.NewWriter(codec)}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &app.Service{Store: store, Users: allUsersExist{}, Settings: settings, Now: func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	}}, store
}

func TestPostgres_ListPagesByKeysetInEverySortOrder(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	me := caller.Caller{UserID: uuid.NewString()}
	for i := 0; i < 7; i++ {
		if _, err := svc.Create(ctx, me, app.CreateInput{Name: fmt.Sprintf("Project %c", 'G'-i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Someone else's project never shows up.
	if _, err := svc.Create(ctx, caller.Caller{UserID: uuid.NewString()}, app.CreateInput{Name: "Project Z"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sort, order, want string }{
		{"name", "asc", "ABCDEFG"}, {"name", "desc", "GFEDCBA"},
		{"created_at", "asc", "GFEDCBA"}, {"created_at", "desc", "ABCDEFG"},
	} {
		var got strings.Builder
		token := ""
		for {
			rows, next, err := svc.List(ctx, me, 3, token, tc.sort, tc.order, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				got.WriteString(strings.TrimPrefix(r.Project.Name, "Project "))
			}
			if next == "" {
				break
			}
			token = next
		}
		if got.String() != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.sort, tc.order, got.String(), tc.want)
		}
	}
}

func TestPostgres_SearchToleratesTyposAndRanksBestFirst(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	me := caller.Caller{UserID: uuid.NewString()}
	for _, n := range []string{"Acme Platform", "Platform Tools for Acme", "Billing", "Plate Collection"} {
		if _, err := svc.Create(ctx, me, app.CreateInput{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.Search(ctx, me, "platfrom", 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Project.Name)
	}
	if len(names) < 2 || !strings.Contains(names[0], "Platform") || !strings.Contains(names[1], "Platform") {
		t.Fatalf("search found %v", names)
	}
	for _, n := range names {
		if n == "Billing" {
			t.Fatalf("unrelated project matched: %v", names)
		}
	}
}

// GetAs reads a project with the reader's role in one query: the owner's, none for a stranger or
// an id that is not a user's, and not found for a missing project.
func TestPostgres_GetAsReadsTheProjectWithTheRole(t *testing.T) {
	svc, store := newService(t)
	ctx := context.Background()
	me := caller.Caller{UserID: uuid.NewString()}
	w, err := svc.Create(ctx, me, app.CreateInput{Name: "Mine"})
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]string{me.UserID: "owner", uuid.NewString(): "", "system:search": ""} {
		p, role, err := store.GetAs(ctx, w.Project.ID, who)
		if err != nil || p.ID != w.Project.ID || p.Name != "Mine" || string(role) != want {
			t.Errorf("as %s: %+v %q %v, want role %q", who, p, role, err, want)
		}
	}
	if _, _, err := store.GetAs(ctx, uuid.NewString(), me.UserID); errs.As(err).Kind != errs.KindNotFound {
		t.Fatalf("a missing project: %v", err)
	}
}

func TestPostgres_SlugConflictWritesNothing(t *testing.T) {
	svc, store := newService(t)
	ctx := context.Background()
	me := caller.Caller{UserID: uuid.NewString()}
	if _, err := svc.Create(ctx, me, app.CreateInput{Name: "One", Slug: "one"}); err != nil {
		t.Fatal(err)
	}
	before, _ := outbox.Pending(ctx, store.Pool)
	_, err := svc.Create(ctx, me, app.CreateInput{Name: "Two", Slug: "one"})
	if errs.As(err).Code != "project.slug_taken" {
		t.Fatalf("got %v", err)
	}
	after, _ := outbox.Pending(ctx, store.Pool)
	if after != before {
		t.Fatalf("outbox grew from %d to %d on a refused create", before, after)
	}
}

func TestSettingsSchema_ValidatesAgainstTheContract(t *testing.T) {
	v, err := adapters.NewSettingsSchema()
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"retention_days": float64(30), "default_branch": "main",
		"notifications": map[string]any{"slack": true, "slack_webhook_url": "https://hooks.slack.com/services/T/B/X"},
		"features":      map[string]any{"beta_ui": true}, "labels": map[string]any{"team": "core"}}
	if err := v.Validate(good); err != nil {
		t.Fatalf("valid settings refused: %v", err)
	}
	for name, bad := range map[string]map[string]any{
		"unknown key":        {"colour": "red"},
		"wrong type":         {"retention_days": "30"},
		"fraction":           {"retention_days": 1.5},
		"out of range":       {"retention_days": float64(0)},
		"not slack":          {"notifications": map[string]any{"slack_webhook_url": "https://evil.example/hook"}},
		"bad feature name":   {"features": map[string]any{"Bad Name": true}},
		"feature not bool":   {"features": map[string]any{"beta": "yes"}},
		"nested unknown key": {"notifications": map[string]any{"sms": true}},
	} {
		err := v.Validate(bad)
		if e := errs.As(err); e.Code != "project.settings_invalid" || e.Field != "settings" {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestPostgres_ScanReadsEveryProjectWithItsMembersForSystemCallersOnly(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	owners := map[string]string{}
	for i := range 5 {
		me := caller.Caller{UserID: uuid.NewString()}
		p, err := svc.Create(ctx, me, app.CreateInput{Name: fmt.Sprintf("Scanned %d", i), Visibility: "private"})
		if err != nil {
			t.Fatal(err)
		}
		owners[p.Project.ID] = me.UserID
		if i == 0 {
			if _, err := svc.AddMember(ctx, me, p.Project.ID, uuid.NewString(), "viewer"); err != nil {
				t.Fatal(err)
			}
		}
	}
	system := caller.Caller{UserID: caller.SystemPrefix + "search"}
	seen := map[string]int{}
	token := ""
	for {
		rows, next, err := svc.Scan(ctx, system, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen[r.Project.ID] = len(r.Members)
			if !slices.ContainsFunc(r.Members, func(m project.Member) bool { return m.UserID == owners[r.Project.ID] && m.Role == project.Owner }) {
				t.Errorf("%s: owner missing from members %+v", r.Project.Name, r.Members)
			}
		}
		if token = next; token == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("scan saw %d projects, want 5", len(seen))
	}
	withTwo := 0
	for _, n := range seen {
		if n == 2 {
			withTwo++
		}
	}
	if withTwo != 1 {
		t.Errorf("member counts %v, want one project with 2", seen)
	}
	if _, _, err := svc.Scan(ctx, caller.Caller{UserID: uuid.NewString()}, "", 10); errs.As(err).Kind != errs.KindPermissionDenied {
		t.Errorf("a user scanned every project: %v", err)
	}
}
