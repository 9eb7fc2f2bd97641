package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/poll"
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
	users, projects, files []index.Document
	meanwhile              func()
	// afterFiles runs once the files are copied (an event arriving before the swap).
	afterFiles func()
	fail       error
}

func (f fakeSources) Files(_ context.Context, page func([]index.Document) error) error {
	if err := page(f.files); err != nil {
		return err
	}
	if f.afterFiles != nil {
		f.afterFiles()
	}
	return nil
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

const fid = "88888888-8888-8888-8888-888888888888"

func fileEvent(typ string) events.Envelope {
	return ev(typ, 0, events.FileEvent{ProjectID: pid, FileID: fid, AccountID: owner, UploaderID: owner, SizeBytes: 10,
		ContentType: "application/pdf", Name: "flight-plan.pdf"})
}

// visibleTo runs a search for the file's name as the viewer and says whether the file was found.
func visibleTo(t *testing.T, s *Service, c *caller.Caller) bool {
	t.Helper()
	page, err := s.Search(context.Background(), c, Request{Text: "flight", Types: []string{index.TypeFile}, ProjectID: pid})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total == 1 && page.Hits[0].Document.ID == fid
}

// A file is found by name by whoever may see its project, and follows the project: members added
// and removed, visibility changed, the project archived and deleted, a member erased. A replayed
// upload never revives a deleted file.
func TestHandle_FilesFollowTheirProject(t *testing.T) {
	s := newService(t)
	stranger := &caller.Caller{UserID: "33333333-3333-3333-3333-333333333333"}
	ownerC, friendC := &caller.Caller{UserID: owner}, &caller.Caller{UserID: friend}
	must(t, s, created(1), fileEvent("file.uploaded"))
	d := doc(t, s, fid)
	if d.Type != index.TypeFile || d.Title != "flight-plan.pdf" || d.ProjectID != pid || d.ContentType != "application/pdf" || d.OwnerID != owner {
		t.Fatalf("the file's document: %+v", d)
	}
	if !visibleTo(t, s, ownerC) || visibleTo(t, s, friendC) || visibleTo(t, s, nil) {
		t.Fatal("a private project's file: only its member finds it")
	}
	must(t, s, member("project.member_added", 2, friend, "viewer"))
	if !visibleTo(t, s, friendC) {
		t.Fatal("a new member does not find the project's file")
	}
	must(t, s, member("project.member_removed", 3, friend, "viewer"))
	if visibleTo(t, s, friendC) {
		t.Fatal("a removed member still finds the project's file")
	}
	must(t, s, ev("project.updated", 4, events.ProjectUpdated{ProjectID: pid, Name: "Apollo", Visibility: "public"}))
	if !visibleTo(t, s, nil) || !visibleTo(t, s, stranger) {
		t.Fatal("a public project's file is hidden")
	}
	must(t, s, ev("project.archived", 5, events.ProjectArchived{ProjectID: pid, Archived: true}))
	if d := doc(t, s, fid); !d.Archived || d.Visibility != index.Public {
		t.Fatalf("the archived project's file: %+v", d)
	}
	must(t, s, ev("project.updated", 6, events.ProjectUpdated{ProjectID: pid, Name: "Apollo", Visibility: "private"}),
		member("project.member_added", 7, friend, "editor"))
	must(t, s, ev("user.erased", 2, events.UserErased{UserID: friend}))
	if d := doc(t, s, fid); slices.Contains(d.Members, friend) || !slices.Contains(d.Members, owner) {
		t.Fatalf("the erased member stays on the file: %+v", d)
	}
	must(t, s, fileEvent("file.deleted"), fileEvent("file.uploaded"))
	if d := doc(t, s, fid); !d.Deleted || visibleTo(t, s, ownerC) {
		t.Fatalf("a replayed upload revived a deleted file: %+v", d)
	}

	// A deleted project's files go with it.
	s = newService(t)
	must(t, s, created(1), fileEvent("file.uploaded"), ev("project.deleted", 2, events.ProjectDeleted{ProjectID: pid}))
	if d := doc(t, s, fid); !d.Deleted {
		t.Fatalf("a deleted project's file: %+v", d)
	}
	// A file whose project is not indexed yet is visible to nobody until the project arrives.
	s = newService(t)
	must(t, s, fileEvent("file.uploaded"))
	if visibleTo(t, s, ownerC) || visibleTo(t, s, nil) {
		t.Fatal("a file of an unknown project is visible")
	}
	must(t, s, created(1))
	if !visibleTo(t, s, ownerC) {
		t.Fatal("the project's creation did not reach its file")
	}
}

// A rebuild copies files with their project's access in the new index, and a project event applied
// after the files were copied, before the swap, reaches the new index's files too.
func TestReindex_FilesTakeTheirProjectsAccess(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	must(t, s, created(1))
	proj := doc(t, s, pid)
	s.Sources = fakeSources{projects: []index.Document{proj},
		files:      []index.Document{{ID: fid, Type: index.TypeFile, Title: "flight-plan.pdf", ProjectID: pid, OwnerID: owner}},
		afterFiles: func() { must(t, s, member("project.member_added", 2, friend, "viewer")) },
	}
	var last Progress
	if err := s.Reindex(ctx, caller.Caller{UserID: "system:search"}, func(p Progress) error { last = p; return nil }); err != nil {
		t.Fatal(err)
	}
	if !last.Finished || last.Documents != 2 {
		t.Fatalf("last progress %+v", last)
	}
	if d := doc(t, s, fid); d.Visibility != index.Private || !slices.Equal(d.Members, []string{owner, friend}) {
		t.Fatalf("the rebuilt file's access: %+v", d)
	}
	if !visibleTo(t, s, &caller.Caller{UserID: friend}) {
		t.Fatal("the member added during the rebuild does not find the file")
	}
}

// failingOnce fails its first scan of projects (a source still starting), then lists as fakeSources.
type failingOnce struct {
	fakeSources
	failed *atomic.Bool
}

func (f failingOnce) Projects(ctx context.Context, page func([]index.Document) error) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("projects is starting")
	}
	return f.fakeSources.Projects(ctx, page)
}

// An outdated index is rebuilt in the background, retried until the sources answer.
func TestRebuildWhenReady_RetriesUntilTheSourcesAnswer(t *testing.T) {
	s := newService(t)
	must(t, s, created(1))
	s.Sources = failingOnce{fakeSources: fakeSources{projects: []index.Document{doc(t, s, pid)},
		users: []index.Document{{ID: owner, Type: index.TypeUser, Title: "Olga Owner", Visibility: index.Internal, Version: 1}}},
		failed: &atomic.Bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.RebuildWhenReady(ctx, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	rebuilt := poll.Until(10*time.Second, time.Millisecond, func() bool {
		n, err := s.Index.Count(context.Background())
		return err == nil && n == 2
	})
	cancel()
	if err := <-done; err != nil || !rebuilt {
		t.Fatalf("rebuilt %v, %v", rebuilt, err)
	}
}
