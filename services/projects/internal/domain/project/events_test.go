package project

import (
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func types(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func versions(evs []Event) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.Project.Version)
	}
	return out
}

func same[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNew_IsVersionOneWithItsOwnerAndOneEvent(t *testing.T) {
	p, owner, evs := New("p1", "u1", Fields{Name: "Rocket", Slug: "rocket", Visibility: Private}, t0)
	if p.Version != 1 || owner.UserID != "u1" || owner.Role != Owner || p.Settings == nil {
		t.Fatalf("%+v %+v", p, owner)
	}
	if !same(types(evs), []string{"project.created"}) || evs[0].Details["slug"] != "rocket" || evs[0].IsMemberEvent() {
		t.Fatalf("%+v", evs)
	}
}

func TestUpdate(t *testing.T) {
	name, same1, vis := "New", "Rocket", Public
	tags := []string{"a"}
	cases := []struct {
		name    string
		read    int64
		ch      Changes
		code    string
		changed map[string]string
	}{
		{"stale read", 1, Changes{Name: &name}, "project.version_mismatch", nil},
		{"nothing differs: no event, no version", 3, Changes{Name: &same1}, "", nil},
		{"a change", 3, Changes{Name: &name, Visibility: &vis, Tags: &tags}, "", map[string]string{"name": "New", "visibility": "public", "tags": "changed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Project{ID: "p1", Name: "Rocket", Visibility: Private, Version: 3}
			evs, err := p.Update(tc.read, tc.ch, t0)
			if tc.code != "" {
				if errs.As(err).Code != tc.code || p.Version != 3 {
					t.Fatalf("%v, version %d", err, p.Version)
				}
				return
			}
			if tc.changed == nil {
				if err != nil || len(evs) != 0 || p.Version != 3 {
					t.Fatalf("%v %+v %d", err, evs, p.Version)
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].Project.Version != 4 || p.Version != 4 || !evs[0].Project.UpdatedAt.Equal(t0) {
				t.Fatalf("%v %+v", err, evs)
			}
			if len(evs[0].Details) != len(tc.changed) {
				t.Fatalf("details %v, want %v", evs[0].Details, tc.changed)
			}
			for k, v := range tc.changed {
				if evs[0].Details[k] != v {
					t.Fatalf("details %v, want %v", evs[0].Details, tc.changed)
				}
			}
		})
	}
}

// An event is a snapshot: a later change to the project does not show through it.
func TestEvents_AreSnapshots(t *testing.T) {
	p := Project{ID: "p1", Name: "Rocket", Tags: []string{"a"}, Version: 1}
	tags := []string{"b"}
	evs, _ := p.Update(1, Changes{Tags: &tags}, t0)
	p.Tags[0], p.Name = "z", "Other"
	if evs[0].Project.Tags[0] != "b" || evs[0].Project.Name != "Rocket" {
		t.Fatalf("%+v", evs[0].Project)
	}
}

func TestArchiveAndDelete(t *testing.T) {
	p := Project{ID: "p1", Name: "Rocket", Version: 2}
	if evs, err := p.Archive(true, t0); err != nil || !same(types(evs), []string{"project.archived"}) || !evs[0].Project.Archived || p.Version != 3 {
		t.Fatalf("%v %+v", err, evs)
	}
	if _, err := p.Archive(true, t0); errs.As(err).Code != "project.already_archived" || p.Version != 3 {
		t.Fatal(err)
	}
	if evs, err := p.Archive(false, t0); err != nil || !same(types(evs), []string{"project.restored"}) || evs[0].Project.Archived {
		t.Fatalf("%v %+v", err, evs)
	}
	evs := p.Delete("", t0)
	if !same(types(evs), []string{"project.deleted"}) || evs[0].Details["name"] != "Rocket" || evs[0].Project.Version != 5 {
		t.Fatalf("%+v", evs)
	}
	if evs := p.Delete("last member erased", t0); evs[0].Details["reason"] != "last member erased" {
		t.Fatalf("%+v", evs)
	}
}

func TestMembers(t *testing.T) {
	p := Project{ID: "p1", Version: 1}
	m, evs, err := p.AddMember("u2", "", Editor, t0)
	if err != nil || m.Role != Editor || !m.AddedAt.Equal(t0) || !same(types(evs), []string{"project.member_added"}) ||
		evs[0].Member.UserID != "u2" || evs[0].Details["role"] != "editor" || p.Version != 2 {
		t.Fatalf("%v %+v %+v", err, m, evs)
	}
	if _, _, err := p.AddMember("u2", Editor, Viewer, t0); errs.As(err).Code != "member.exists" {
		t.Fatal(err)
	}
	if evs, err := p.ChangeRole("u2", Editor, Editor, nil, t0); err != nil || len(evs) != 0 || p.Version != 2 {
		t.Fatalf("the same role again: %v %+v", err, evs)
	}
	if _, err := p.ChangeRole("u9", "", Viewer, nil, t0); errs.As(err).Code != "member.not_found" {
		t.Fatal(err)
	}
	if _, err := p.ChangeRole("u1", Owner, Admin, []string{"u1"}, t0); errs.As(err).Kind != errs.KindConflict || p.Version != 2 {
		t.Fatalf("the last owner demoted: %v", err)
	}
	if evs, err := p.ChangeRole("u1", Owner, Admin, []string{"u1", "u3"}, t0); err != nil || evs[0].Member.Role != Admin {
		t.Fatalf("%v %+v", err, evs)
	}
	if _, err := p.RemoveMember("u3", Owner, []string{"u3"}, t0); errs.As(err).Kind != errs.KindConflict {
		t.Fatalf("the last owner left: %v", err)
	}
	evs, err = p.RemoveMember("u2", Editor, nil, t0)
	if err != nil || !same(types(evs), []string{"project.member_removed"}) || evs[0].Member.Role != "" || evs[0].Details["role"] != "" {
		t.Fatalf("%v %+v", err, evs)
	}
}

func TestTransfer(t *testing.T) {
	p := Project{ID: "p1", OwnerID: "u1", Version: 1}
	if _, err := p.Transfer("u1", "u1", Owner, t0); errs.As(err).Code != "member.transfer_to_self" {
		t.Fatal(err)
	}
	if _, err := p.Transfer("u1", "u2", "", t0); errs.As(err).Code != "member.not_found" {
		t.Fatal(err)
	}
	evs, err := p.Transfer("u1", "u2", Editor, t0)
	if err != nil || p.OwnerID != "u2" || !same(versions(evs), []int64{2, 3}) ||
		evs[0].Member != (Member{UserID: "u2", Role: Owner}) || evs[1].Member != (Member{UserID: "u1", Role: Admin}) {
		t.Fatalf("%v %+v", err, evs)
	}
	// To a co-owner: only the old owner's demotion is news.
	if evs, _ := p.Transfer("u2", "u3", Owner, t0); !same(versions(evs), []int64{4}) {
		t.Fatalf("%+v", evs)
	}
}

func TestErase(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	cases := []struct {
		name     string
		members  []Member
		changed  bool
		deleted  bool
		heir     string
		owner    string
		types    []string
		versions []int64
	}{
		{"not a member: nothing", []Member{{UserID: "u2", Role: Owner}}, false, false, "", "u1", nil, nil},
		{"the last member: deleted", []Member{{UserID: "u1", Role: Owner}}, true, true, "", "u1",
			[]string{"project.deleted"}, []int64{2}},
		{"the only owner: the successor inherits", []Member{{UserID: "u1", Role: Owner}, {UserID: "v", Role: Viewer, AddedAt: at(1)},
			{UserID: "a", Role: Admin, AddedAt: at(2)}}, true, false, "a", "a",
			[]string{"project.member_role_changed", "project.member_removed"}, []int64{2, 3}},
		{"another owner remains: they own it", []Member{{UserID: "u1", Role: Owner}, {UserID: "o", Role: Owner}}, true, false, "", "o",
			[]string{"project.member_removed"}, []int64{2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Project{ID: "p1", OwnerID: "u1", Version: 1}
			e, changed := p.Erase("u1", tc.members, t0)
			if changed != tc.changed || e.Deleted != tc.deleted || p.OwnerID != tc.owner ||
				!same(types(e.Events), tc.types) || !same(versions(e.Events), tc.versions) {
				t.Fatalf("%v %+v owner %s", changed, e, p.OwnerID)
			}
			if (e.Heir == nil) != (tc.heir == "") || (e.Heir != nil && (e.Heir.UserID != tc.heir || e.Heir.Role != Owner)) {
				t.Fatalf("heir %+v, want %q", e.Heir, tc.heir)
			}
		})
	}
}
