package project

import (
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Rocket":            "acme-rocket",
		"  Hello,  World!! ":     "hello-world",
		"Ünïcödé only":           "n-c-d-only",
		"!!!":                    "project",
		strings.Repeat("ab", 50): strings.Repeat("ab", 31) + "a",
	} {
		got := Slugify(in)
		if got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
		if CheckSlug(got) != nil {
			t.Errorf("Slugify(%q) = %q is not a valid slug", in, got)
		}
	}
}

func TestCheckSlug(t *testing.T) {
	for _, ok := range []string{"a", "a-b", "abc123", strings.Repeat("x", 63)} {
		if err := CheckSlug(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "A", "a_b", "a b", strings.Repeat("x", 64), "ä"} {
		if err := CheckSlug(bad); errs.As(err).Code != "project.slug_invalid" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNormalizeTags(t *testing.T) {
	got, err := NormalizeTags([]string{"Go", " go ", "dapr", "k8s"})
	if err != nil || strings.Join(got, ",") != "dapr,go,k8s" {
		t.Fatalf("got %v %v", got, err)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = strings.Repeat("t", i+1)
	}
	for name, tags := range map[string][]string{"space": {"a b"}, "empty": {""}, "long": {strings.Repeat("t", 33)}, "too many": many} {
		if _, err := NormalizeTags(tags); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestAuthorize_RoleMatrix(t *testing.T) {
	roles := []Role{"", Viewer, Editor, Admin, Owner}
	actions := []Action{Read, Edit, ManageMembers, Delete, Transfer}
	// allowed[role][action] for a private project.
	allowed := map[Role][]bool{
		"":     {false, false, false, false, false},
		Viewer: {true, false, false, false, false},
		Editor: {true, true, false, false, false},
		Admin:  {true, true, true, false, false},
		Owner:  {true, true, true, true, true},
	}
	for _, r := range roles {
		for i, a := range actions {
			err := Authorize(r, false, a)
			if (err == nil) != allowed[r][i] {
				t.Errorf("role %q action %d: err %v", r, a, err)
			}
			if r == "" && errs.As(err).Kind != errs.KindNotFound {
				t.Errorf("a non-member learned a private project exists: %v", err)
			}
		}
	}
	if Authorize("", true, Read) != nil {
		t.Error("a visible project could not be read")
	}
	if errs.As(Authorize("", true, Edit)).Kind != errs.KindPermissionDenied {
		t.Error("a non-member could edit a visible project")
	}
}

func TestCanAssignAndKeepsAnOwner(t *testing.T) {
	if CanAssign(Editor, "", Viewer) == nil {
		t.Error("an editor managed members")
	}
	if CanAssign(Admin, "", Admin) != nil || CanAssign(Admin, Viewer, Editor) != nil {
		t.Error("an admin could not manage non-owners")
	}
	if errs.As(CanAssign(Admin, "", Owner)).Code != "member.owner_only" || errs.As(CanAssign(Admin, Owner, Admin)).Code != "member.owner_only" {
		t.Error("an admin touched ownership")
	}
	if CanAssign(Owner, Owner, Admin) != nil {
		t.Error("an owner could not change an owner")
	}
	if errs.As(KeepsAnOwner([]string{"a"}, "a")).Code != "member.last_owner" {
		t.Error("the last owner could leave")
	}
	if KeepsAnOwner([]string{"a", "b"}, "a") != nil {
		t.Error("one of two owners could not leave")
	}
}

func TestProject_VersionsArchivingAndWritability(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := Project{Version: 3}
	if err := p.CheckVersion(2); errs.As(err).Code != "project.version_mismatch" {
		t.Fatalf("a stale version: %v", err)
	}
	if err := p.CheckVersion(3); err != nil {
		t.Fatal(err)
	}
	if v := p.Bump(now); v != 4 || !p.UpdatedAt.Equal(now) {
		t.Fatalf("bump: %d %v", v, p.UpdatedAt)
	}
	if err := p.SetArchived(false, now); errs.As(err).Code != "project.not_archived" || p.Version != 4 {
		t.Fatalf("restoring a live project: %v, version %d", err, p.Version)
	}
	if err := p.SetArchived(true, now); err != nil || !p.Archived || p.Version != 5 {
		t.Fatalf("archive: %v %+v", err, p)
	}
	if err := p.CheckWritable(); errs.As(err).Code != "project.archived" {
		t.Fatalf("an archived project is writable: %v", err)
	}
	if err := p.SetArchived(true, now); errs.As(err).Code != "project.already_archived" || p.Version != 5 {
		t.Fatalf("archiving twice: %v, version %d", err, p.Version)
	}
}

func TestSuccessor_HighestRoleThenLongestStanding(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	members := []Member{{UserID: "late-admin", Role: Admin, AddedAt: at(5)}, {UserID: "editor", Role: Editor, AddedAt: at(1)},
		{UserID: "early-admin", Role: Admin, AddedAt: at(2)}, {UserID: "viewer", Role: Viewer, AddedAt: at(0)}}
	if s := Successor(members); s.UserID != "early-admin" {
		t.Fatalf("successor %s, want early-admin", s.UserID)
	}
	if members[0].UserID != "late-admin" {
		t.Fatal("Successor reordered its argument")
	}
	if s := Successor([]Member{{UserID: "v", Role: Viewer}, {UserID: "e", Role: Editor, AddedAt: at(9)}}); s.UserID != "e" {
		t.Fatalf("successor %s, want e", s.UserID)
	}
}

func TestRedact_RemovesOnlyTheSecretsAndCopies(t *testing.T) {
	settings := map[string]any{"retention_days": 30, "notifications": map[string]any{"slack": true, "slack_webhook_url": "https://hooks.slack.com/x"}}
	out := Redact(settings, [][]string{{"notifications", "slack_webhook_url"}, {"absent", "path"}})
	n := out["notifications"].(map[string]any)
	if _, ok := n["slack_webhook_url"]; ok || n["slack"] != true || out["retention_days"] != 30 {
		t.Fatalf("%v", out)
	}
	if settings["notifications"].(map[string]any)["slack_webhook_url"] == nil {
		t.Fatal("Redact changed its argument")
	}
}
