package project

import (
	"strings"
	"testing"

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
