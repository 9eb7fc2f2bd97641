package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/search/internal/adapters/bleveindex"
	"github.com/acme/platform/services/search/internal/index"
)

const (
	owner  = "11111111-1111-1111-1111-111111111111"
	friend = "22222222-2222-2222-2222-222222222222"
	pid    = "99999999-9999-9999-9999-999999999999"
)

func newService(t *testing.T) *Service {
	x, err := bleveindex.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return &Service{Index: x, Now: time.Now}
}

func ev(typ string, version int64, payload any) events.Envelope {
	return events.Envelope{EventID: typ, Type: typ, OccurredAt: time.Now().UTC(), AggregateVersion: version, Payload: payload}
}

func must(t *testing.T, s *Service, es ...events.Envelope) {
	t.Helper()
	for _, e := range es {
		if err := s.Handle(context.Background(), e); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}
}

func doc(t *testing.T, s *Service, id string) index.Document {
	t.Helper()
	d, _, err := s.Index.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func created(v int64) events.Envelope {
	return ev("project.created", v, events.ProjectCreated{ProjectID: pid, OwnerID: owner, Name: "Apollo", Slug: "apollo",
		Visibility: "private", Tags: []string{"space"}, Description: "To the moon"})
}

func member(typ string, v int64, user, role string) events.Envelope {
	return ev(typ, v, events.MemberChanged{ProjectID: pid, UserID: user, Role: role, ProjectName: "Apollo"})
}

func TestHandle_OlderAndReplayedEventsChangeNothing(t *testing.T) {
	s := newService(t)
	renamed := ev("project.updated", 3, events.ProjectUpdated{ProjectID: pid, Name: "Artemis", Visibility: "public"})
	stale := ev("project.updated", 2, events.ProjectUpdated{ProjectID: pid, Name: "Gemini", Visibility: "private"})
	must(t, s, created(1), renamed, stale, renamed, created(1))
	if d := doc(t, s, pid); d.Title != "Artemis" || d.Visibility != "public" || d.Version != 3 {
		t.Errorf("after a stale update and replays: %+v", d)
	}
}

func TestHandle_MembershipsFollowTheirOwnVersions(t *testing.T) {
	s := newService(t)
	must(t, s, created(1), member("project.member_added", 2, friend, "viewer"),
		// A transfer changes two memberships at one version.
		member("project.member_role_changed", 3, friend, "owner"), member("project.member_role_changed", 3, owner, "admin"),
		// A replayed, older add of someone removed later must not bring them back.
		member("project.member_removed", 4, friend, ""), member("project.member_added", 2, friend, "viewer"))
	d := doc(t, s, pid)
	if !slices.Equal(d.Members, []string{owner}) || d.OwnerID != friend || d.Version != 4 {
		t.Errorf("members %v owner %s version %d; want [%s], owner %s (transferred), version 4", d.Members, d.OwnerID, d.Version, owner, friend)
	}
}

func TestHandle_DeletedProjectsStayDeleted(t *testing.T) {
	s := newService(t)
	must(t, s, created(1), ev("project.deleted", 2, events.ProjectDeleted{ProjectID: pid}),
		ev("project.updated", 1, events.ProjectUpdated{ProjectID: pid, Name: "Zombie"}), member("project.member_added", 2, friend, "viewer"))
	d := doc(t, s, pid)
	if !d.Deleted || d.Title != "" || len(d.Members) != 0 {
		t.Errorf("tombstone %+v", d)
	}
	page, err := s.Search(context.Background(), &caller.Caller{UserID: owner, Roles: []string{"admin"}}, Request{Text: "apollo"})
	if err != nil || page.Total != 0 {
		t.Errorf("a deleted project is searchable: %d, %v", page.Total, err)
	}
}

func TestHandle_UserErasedPurgesNameAndMemberships(t *testing.T) {
	s := newService(t)
	must(t, s, ev("user.registered", 1, events.UserRegistered{UserID: friend, DisplayName: "Fiona Friend"}),
		created(1), member("project.member_added", 2, friend, "viewer"),
		ev("user.erased", 2, events.UserErased{UserID: friend}),
		member("project.member_added", 2, friend, "viewer"))
	if d := doc(t, s, friend); !d.Deleted || d.Title != "" {
		t.Errorf("erased user's document: %+v", d)
	}
	if d := doc(t, s, pid); slices.Contains(d.Members, friend) {
		t.Errorf("erased user is still a member: %v", d.Members)
	}
	page, _ := s.Search(context.Background(), &caller.Caller{UserID: owner}, Request{Text: "fiona"})
	if page.Total != 0 {
		t.Errorf("an erased user is found by name")
	}
}

func TestSearch_RejectsBadRequests(t *testing.T) {
	s := newService(t)
	cases := map[string]Request{
		"type":       {Types: []string{"invoice"}},
		"visibility": {Visibility: []string{"secret"}},
		"sort":       {Sort: "popularity"},
		"order":      {Order: "sideways"},
		"page size":  {PageSize: 101},
		"token":      {PageToken: "bogus"},
		"long q":     {Text: string(make([]byte, 201))},
		"range":      {CreatedFrom: time.Now(), CreatedTo: time.Now().Add(-time.Hour)},
		"tags":       {Tags: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}},
	}
	for name, r := range cases {
		if _, err := s.Search(context.Background(), nil, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A token of one sort order is refused by another.
	for i := range 3 {
		must(t, s, ev("user.registered", 1, events.UserRegistered{UserID: string(rune('a'+i)) + friend[1:], DisplayName: "User"}))
	}
	p, err := s.Search(context.Background(), &caller.Caller{UserID: owner}, Request{Sort: "title", PageSize: 1})
	if err != nil || p.NextPageToken == "" {
		t.Fatalf("first page: %v %q", err, p.NextPageToken)
	}
	if _, err := s.Search(context.Background(), &caller.Caller{UserID: owner}, Request{Sort: "created_at", PageSize: 1, PageToken: p.NextPageToken}); err == nil {
		t.Error("a title-order token was accepted for created_at")
	}
}

func TestReindex_OnlyForPlatformServices(t *testing.T) {
	s := newService(t)
	err := s.Reindex(context.Background(), caller.Caller{UserID: owner, Roles: []string{"admin"}}, func(Progress) error { return nil })
	if err == nil {
		t.Fatal("a user, even a platform admin, started a rebuild")
	}
}
