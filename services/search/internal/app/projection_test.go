package app

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// fakeSources lists documents as the users and projects scan APIs would; during the scan of
// projects it runs meanwhile (an event arriving while the rebuild copies).
type fakeSources struct {
	users, projects []index.Document
	meanwhile       func()
	fail            error
}

func (f fakeSources) Users(_ context.Context, page func([]index.Document) error) error {
	return page(f.users)
}

func (f fakeSources) Projects(_ context.Context, page func([]index.Document) error) error {
	if f.fail != nil {
		return f.fail
	}
	if f.meanwhile != nil {
		f.meanwhile()
	}
	return page(f.projects)
}

// The rebuild protocol on the real handlers and the embedded index: what the sources list replaces
// the index, an event applied during the rebuild is not undone by an older copy, tombstones are
// carried over, and a failed rebuild leaves the index as it was.
func TestReindex_ReplacesContentKeepsEventsMeanwhileAndTombstones(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	system := caller.Caller{UserID: "system:search"}
	// The index holds a project, a stale document no source lists any more, and a deleted project.
	must(t, s, created(1))
	stale := index.Document{ID: "p-stale", Type: index.TypeProject, Title: "Stale", Visibility: index.Public, Version: 3}
	gone := index.Document{ID: "p-gone", Type: index.TypeProject, Deleted: true, Version: 7}
	if err := s.Index.Put(ctx, stale, gone); err != nil {
		t.Fatal(err)
	}
	// The source lists the project at version 1; meanwhile an update at version 2 arrives.
	src := doc(t, s, pid)
	s.Sources = fakeSources{
		users:    []index.Document{{ID: owner, Type: index.TypeUser, Title: "Olga Owner", Visibility: index.Internal, Version: 1}},
		projects: []index.Document{src},
		meanwhile: func() {
			must(t, s, ev("project.updated", 2, events.ProjectUpdated{ProjectID: pid, Name: "Apollo 11", Visibility: "private", Tags: []string{"space"}}))
		},
	}
	var last Progress
	if err := s.Reindex(ctx, system, func(p Progress) error { last = p; return nil }); err != nil {
		t.Fatal(err)
	}
	if !last.Finished || last.Documents != 2 {
		t.Fatalf("last progress %+v, want finished with 2 documents", last)
	}
	if d := doc(t, s, pid); d.Version != 2 || d.Title != "Apollo 11" {
		t.Fatalf("the update applied during the rebuild was lost: %+v", d)
	}
	if _, ok, _ := s.Index.Get(ctx, "p-stale"); ok {
		t.Fatal("a document no source lists survived the rebuild")
	}
	if d := doc(t, s, "p-gone"); !d.Deleted || d.Version != 7 {
		t.Fatalf("the tombstone was not carried over: %+v", d)
	}
	// A replay of the deleted project's creation changes nothing.
	must(t, s, ev("project.created", 1, events.ProjectCreated{ProjectID: "p-gone", OwnerID: owner, Name: "Back", Visibility: "public"}))
	if d := doc(t, s, "p-gone"); !d.Deleted {
		t.Fatalf("a replayed creation brought a deleted project back: %+v", d)
	}

	// A failed rebuild leaves the index as it was, and events keep being applied.
	s.Sources = fakeSources{fail: errors.New("projects unreachable")}
	if err := s.Reindex(ctx, system, func(Progress) error { return nil }); err == nil {
		t.Fatal("a failed rebuild reported success")
	}
	if d := doc(t, s, pid); d.Version != 2 {
		t.Fatalf("after a failed rebuild: %+v", d)
	}
	must(t, s, ev("project.updated", 3, events.ProjectUpdated{ProjectID: pid, Name: "Apollo 12", Visibility: "private"}))
	if d := doc(t, s, pid); d.Version != 3 {
		t.Fatalf("an event after a failed rebuild: %+v", d)
	}
}

// One rebuild at a time.
func TestReindex_OneAtATime(t *testing.T) {
	s := newService(t)
	system := caller.Caller{UserID: "system:search"}
	started, release := make(chan struct{}), make(chan struct{})
	s.Sources = fakeSources{meanwhile: func() { close(started); <-release }}
	done := make(chan error)
	go func() { done <- s.Reindex(context.Background(), system, func(Progress) error { return nil }) }()
	<-started
	err := s.Reindex(context.Background(), system, func(Progress) error { return nil })
	close(release)
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a second rebuild: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
