package app

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// memStore is the Store in memory, with transactions that leave nothing behind when they fail (the
// PostgreSQL adapter's own suite proves the real one does).
type memStore struct {
	mu        sync.Mutex
	projects  map[string]project.Project
	members   map[string]map[string]project.Member
	published []outbox.Event
	// failPublish makes the next Publish fail, to prove a transaction is all or nothing.
	failPublish bool
}

func newMemStore() *memStore {
	return &memStore{projects: map[string]project.Project{}, members: map[string]map[string]project.Member{}}
}

func (m *memStore) InTx(ctx context.Context, fn func(Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	projects, members, published := maps.Clone(m.projects), map[string]map[string]project.Member{}, slices.Clone(m.published)
	for id, ms := range m.members {
		members[id] = maps.Clone(ms)
	}
	if err := fn(memTx{m}); err != nil {
		m.projects, m.members, m.published = projects, members, published
		return err
	}
	return nil
}

var errNoProject = errs.NotFound("project.not_found", "no such project")

func (m *memStore) get(id string) (project.Project, error) {
	p, ok := m.projects[id]
	if !ok {
		return p, errNoProject
	}
	return p, nil
}

func (m *memStore) Get(_ context.Context, id string) (project.Project, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(id)
}

func (m *memStore) GetAs(_ context.Context, id, userID string) (project.Project, project.Role, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.get(id)
	return p, m.members[id][userID].Role, err
}

func (m *memStore) Role(_ context.Context, projectID, userID string) (project.Role, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.members[projectID][userID].Role, nil
}

func (m *memStore) List(context.Context, string, ListQuery) ([]WithRole, error) { return nil, nil }
func (m *memStore) Search(context.Context, string, string, int) ([]WithRole, error) {
	return nil, nil
}

func (m *memStore) Members(_ context.Context, projectID string) ([]project.Member, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.members[projectID])), nil
}

func (m *memStore) MembershipsOf(_ context.Context, userID string) ([]Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Membership
	for id, ms := range m.members {
		if mem, ok := ms[userID]; ok {
			out = append(out, Membership{ProjectID: id, ProjectName: m.projects[id].Name, Member: mem})
		}
	}
	return out, nil
}

func (m *memStore) Scan(context.Context, string, int) ([]Scanned, error) { return nil, nil }

// memTx works on the store under its lock (InTx holds it).
type memTx struct{ m *memStore }

func (t memTx) Lock(_ context.Context, id string) (project.Project, error) { return t.m.get(id) }
func (t memTx) CountOwned(_ context.Context, ownerID string) (int64, error) {
	var n int64
	for _, p := range t.m.projects {
		if p.OwnerID == ownerID {
			n++
		}
	}
	return n, nil
}
func (t memTx) Role(_ context.Context, projectID, userID string) (project.Role, error) {
	return t.m.members[projectID][userID].Role, nil
}
func (t memTx) Owners(_ context.Context, projectID string) ([]string, error) {
	var out []string
	for id, mem := range t.m.members[projectID] {
		if mem.Role == project.Owner {
			out = append(out, id)
		}
	}
	return out, nil
}
func (t memTx) Members(_ context.Context, projectID string) ([]project.Member, error) {
	out := slices.Collect(maps.Values(t.m.members[projectID]))
	slices.SortFunc(out, func(a, b project.Member) int { return a.AddedAt.Compare(b.AddedAt) })
	return out, nil
}
func (t memTx) SlugTaken(_ context.Context, ownerID, slug, exceptID string) (bool, error) {
	for _, p := range t.m.projects {
		if p.OwnerID == ownerID && p.Slug == slug && p.ID != exceptID {
			return true, nil
		}
	}
	return false, nil
}
func (t memTx) Insert(_ context.Context, p project.Project) error {
	if taken, _ := t.SlugTaken(context.Background(), p.OwnerID, p.Slug, p.ID); taken {
		return errs.Conflict("project.slug_taken", "you already have a project with this slug")
	}
	t.m.projects[p.ID] = p
	return nil
}
func (t memTx) Save(_ context.Context, p project.Project) error { t.m.projects[p.ID] = p; return nil }
func (t memTx) Delete(_ context.Context, id string) error {
	delete(t.m.projects, id)
	delete(t.m.members, id)
	return nil
}
func (t memTx) PutMember(_ context.Context, projectID string, mem project.Member) error {
	if t.m.members[projectID] == nil {
		t.m.members[projectID] = map[string]project.Member{}
	}
	if old, ok := t.m.members[projectID][mem.UserID]; ok && mem.AddedAt.IsZero() {
		mem.AddedAt = old.AddedAt
	}
	t.m.members[projectID][mem.UserID] = mem
	return nil
}
func (t memTx) DeleteMember(_ context.Context, projectID, userID string) error {
	delete(t.m.members[projectID], userID)
	return nil
}
func (t memTx) Publish(_ context.Context, evs ...outbox.Event) error {
	if t.m.failPublish {
		t.m.failPublish = false
		return errors.New("outbox: insert failed")
	}
	t.m.published = append(t.m.published, evs...)
	return nil
}

type knownUsers map[string]bool

func (k knownUsers) Exists(_ context.Context, id string) (bool, error) { return k[id], nil }

type anySettings struct{}

func (anySettings) Validate(map[string]any) error { return nil }

var (
	ownerID  = uuid.NewString()
	adminID  = uuid.NewString()
	editorID = uuid.NewString()
	viewerID = uuid.NewString()
	outsider = uuid.NewString()
	stranger = uuid.NewString() // no account
)

func as(id string) caller.Caller { return caller.Caller{UserID: id} }

// fixture is a project owned by ownerID with an admin, an editor and a viewer.
func fixture(t *testing.T) (*Service, *memStore, string) {
	t.Helper()
	st := newMemStore()
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{Store: st, Settings: anySettings{},
		Users: knownUsers{ownerID: true, adminID: true, editorID: true, viewerID: true, outsider: true},
		Now:   func() time.Time { clock = clock.Add(time.Second); return clock }}
	ctx := context.Background()
	p, err := s.Create(ctx, as(ownerID), CreateInput{Name: "Apollo", Visibility: "private"})
	if err != nil {
		t.Fatal(err)
	}
	for id, role := range map[string]string{adminID: "admin", editorID: "editor", viewerID: "viewer"} {
		if _, err := s.AddMember(ctx, as(ownerID), p.Project.ID, id, role); err != nil {
			t.Fatal(err)
		}
	}
	st.published = nil
	return s, st, p.Project.ID
}

func (anySettings) Secrets() [][]string { return [][]string{{"notifications", "slack_webhook_url"}} }

func code(err error) string {
	if err == nil {
		return ""
	}
	return errs.As(err).Code
}

func types(evs []outbox.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Envelope.Type)
	}
	return out
}

func TestCreate_ValidatesThenWritesTheProjectItsOwnerAndItsEvents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   CreateInput
		code string
	}{
		{"a project", CreateInput{Name: "Apollo", Tags: []string{"Space", "space"}}, ""},
		{"no name", CreateInput{Name: "  "}, "project.name_required"},
		{"a bad visibility", CreateInput{Name: "X", Visibility: "secret"}, "project.visibility_invalid"},
		{"a bad slug", CreateInput{Name: "X", Slug: "Not A Slug"}, "project.slug_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			s := &Service{Store: st, Settings: anySettings{}, Now: time.Now}
			got, err := s.Create(ctx, as(ownerID), tc.in)
			if code(err) != tc.code {
				t.Fatalf("error %v, want %q", err, tc.code)
			}
			if tc.code != "" {
				if len(st.projects) != 0 || len(st.published) != 0 {
					t.Fatal("a refused create wrote something")
				}
				return
			}
			p := st.projects[got.Project.ID]
			if got.Role != project.Owner || p.Version != 1 || p.OwnerID != ownerID || !slices.Equal(p.Tags, []string{"space"}) {
				t.Fatalf("created %+v as %s", p, got.Role)
			}
			if st.members[p.ID][ownerID].Role != project.Owner {
				t.Fatal("the creator is not the owner")
			}
			if ts := types(st.published); !slices.Equal(ts, []string{"project.created", "project.created"}) ||
				st.published[0].Envelope.AggregateVersion != 1 {
				t.Fatalf("events %v", ts)
			}
		})
	}
}

func TestUpdate_OnlyOverTheVersionReadAndByEditors(t *testing.T) {
	ctx := context.Background()
	name := "Apollo 11"
	for _, tc := range []struct {
		name     string
		by       string
		version  int64
		archived bool
		code     string
	}{
		{"an editor at the current version", editorID, 4, false, ""},
		{"a stale version", editorID, 3, false, "project.version_mismatch"},
		{"no version", editorID, 0, false, "project.version_required"},
		{"a viewer", viewerID, 4, false, "project.forbidden"},
		{"an outsider does not learn it exists", outsider, 4, false, "project.not_found"},
		{"an archived project", ownerID, 5, true, "project.archived"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, id := fixture(t)
			if tc.archived {
				if _, err := s.Archive(ctx, as(ownerID), id, true); err != nil {
					t.Fatal(err)
				}
				st.published = nil
			}
			before := st.projects[id]
			got, err := s.Update(ctx, as(tc.by), id, UpdateInput{ExpectedVersion: tc.version, Name: &name})
			if code(err) != tc.code {
				t.Fatalf("error %v, want %q", err, tc.code)
			}
			if tc.code != "" {
				if st.projects[id].Version != before.Version || len(st.published) != 0 {
					t.Fatal("a refused update wrote something")
				}
				return
			}
			if got.Project.Version != 5 || got.Project.Name != name || !slices.Contains(types(st.published), "project.updated") {
				t.Fatalf("updated %+v, events %v", got.Project, types(st.published))
			}
		})
	}
}

func TestArchive_TwiceOrRestoringWhatIsNotArchivedConflicts(t *testing.T) {
	ctx := context.Background()
	s, _, id := fixture(t)
	if _, err := s.Archive(ctx, as(ownerID), id, false); code(err) != "project.not_archived" {
		t.Fatalf("restoring a live project: %v", err)
	}
	if _, err := s.Archive(ctx, as(ownerID), id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Archive(ctx, as(ownerID), id, true); code(err) != "project.already_archived" {
		t.Fatalf("archiving twice: %v", err)
	}
	if _, err := s.Archive(ctx, as(ownerID), id, false); err != nil {
		t.Fatal(err)
	}
}

func TestMembers_RulesOfWhoMayDoWhat(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(s *Service, id string) error
		code string
	}{
		{"an admin adds a viewer", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(adminID), id, outsider, "viewer")
			return err
		}, ""},
		{"an editor may not add members", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(editorID), id, outsider, "viewer")
			return err
		}, "project.forbidden"},
		{"an admin may not grant ownership", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(adminID), id, outsider, "owner")
			return err
		}, "member.owner_only"},
		{"no such account", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(ownerID), id, stranger, "viewer")
			return err
		}, "user.not_found"},
		{"a member twice", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(ownerID), id, editorID, "viewer")
			return err
		}, "member.exists"},
		{"an unknown role", func(s *Service, id string) error {
			_, err := s.AddMember(ctx, as(ownerID), id, outsider, "root")
			return err
		}, "member.role_invalid"},
		{"the last owner cannot leave", func(s *Service, id string) error {
			return s.RemoveMember(ctx, as(ownerID), id, ownerID)
		}, "member.last_owner"},
		{"a viewer leaves", func(s *Service, id string) error {
			return s.RemoveMember(ctx, as(viewerID), id, viewerID)
		}, ""},
		{"a transfer to oneself", func(s *Service, id string) error {
			_, err := s.TransferOwnership(ctx, as(ownerID), id, ownerID)
			return err
		}, "member.transfer_to_self"},
		{"a transfer to a non-member", func(s *Service, id string) error {
			_, err := s.TransferOwnership(ctx, as(ownerID), id, outsider)
			return err
		}, "member.not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, id := fixture(t)
			before := st.projects[id].Version
			err := tc.do(s, id)
			if code(err) != tc.code {
				t.Fatalf("error %v, want %q", err, tc.code)
			}
			if tc.code != "" && (st.projects[id].Version != before || len(st.published) != 0) {
				t.Fatal("a refused change wrote something")
			}
			if tc.code == "" && (st.projects[id].Version != before+1 || len(st.published) == 0) {
				t.Fatalf("version %d after %d, events %v", st.projects[id].Version, before, types(st.published))
			}
		})
	}
}

// A transfer makes the member the owner and the caller an admin, two events at two versions.
func TestTransfer_TheNewOwnerAndTheOldOneAnAdmin(t *testing.T) {
	s, st, id := fixture(t)
	got, err := s.TransferOwnership(context.Background(), as(ownerID), id, editorID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Project.OwnerID != editorID || st.members[id][editorID].Role != project.Owner || st.members[id][ownerID].Role != project.Admin {
		t.Fatalf("after the transfer: %+v, members %v", got.Project, st.members[id])
	}
	var versions []int64
	for _, e := range st.published {
		if e.Topic == events.TopicProjects {
			if e.Envelope.Type != "project.member_role_changed" {
				t.Fatalf("event %s", e.Envelope.Type)
			}
			versions = append(versions, e.Envelope.AggregateVersion)
		}
	}
	if len(versions) != 2 || versions[1] != versions[0]+1 || versions[1] != got.Project.Version {
		t.Fatalf("role changes at versions %v, project at %d", versions, got.Project.Version)
	}
}

// Erasure: the erased owner's project passes to the longest-standing admin; a project whose only
// member is erased is deleted.
func TestEraseMember_OwnershipPassesOnOrTheProjectEnds(t *testing.T) {
	ctx := context.Background()
	s, st, id := fixture(t)
	solo, err := s.Create(ctx, as(ownerID), CreateInput{Name: "Solo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EraseMember(ctx, ownerID); err != nil {
		t.Fatal(err)
	}
	p := st.projects[id]
	if p.OwnerID != adminID || st.members[id][adminID].Role != project.Owner {
		t.Fatalf("successor: owner %s, members %v", p.OwnerID, st.members[id])
	}
	if _, ok := st.members[id][ownerID]; ok {
		t.Fatal("the erased user is still a member")
	}
	if _, ok := st.projects[solo.Project.ID]; ok {
		t.Fatal("a project whose only member was erased still exists")
	}
	if !slices.Contains(types(st.published), "project.deleted") {
		t.Fatalf("events %v", types(st.published))
	}
}

// A transaction that fails at its last step (the outbox insert) leaves nothing behind.
func TestMutations_AreAllOrNothing(t *testing.T) {
	s, st, id := fixture(t)
	before := st.projects[id]
	members := maps.Clone(st.members[id])
	st.failPublish = true
	if _, err := s.AddMember(context.Background(), as(ownerID), id, outsider, "viewer"); err == nil {
		t.Fatal("a failed outbox insert went unnoticed")
	}
	if st.projects[id].Version != before.Version || !maps.Equal(st.members[id], members) || len(st.published) != 0 {
		t.Fatal("a failed transaction left changes behind")
	}
}

// A search query is refused before the store sees it when it cannot be one: too short, too long, or
// holding NUL, which PostgreSQL's text refuses (schemathesis found that as a 500).
func TestSearch_QueryBounds(t *testing.T) {
	s, _, _ := fixture(t)
	for _, q := range []string{"a", strings.Repeat("é", 101), "ab\x00cd"} {
		if _, err := s.Search(context.Background(), as(ownerID), q, 10); errs.As(err).Code != "project.query_invalid" {
			t.Errorf("%q: %v", q, err)
		}
	}
	if _, err := s.Search(context.Background(), as(ownerID), "apollo", 10); err != nil {
		t.Fatal(err)
	}
}

// projectLimit allows each account at most n projects.
type projectLimit int64

func (l projectLimit) Allow(_ context.Context, _, _ string, total int64) error {
	if total > int64(l) {
		return &errs.Error{Kind: errs.KindPaymentRequired, Code: "billing.plan_limit_reached", Message: "the plan's limit"}
	}
	return nil
}

// A transfer asks the new owner's plan for one more project, as a create would: beyond it, 402 and
// nothing changes.
func TestTransfer_TheNewOwnersPlanMustAllowTheProject(t *testing.T) {
	ctx := context.Background()
	s, st, id := fixture(t)
	s.Billing = projectLimit(1)
	if _, err := s.Create(ctx, as(editorID), CreateInput{Name: "Editor's own", Visibility: "private"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransferOwnership(ctx, as(ownerID), id, editorID); errs.As(err).Code != "billing.plan_limit_reached" {
		t.Fatalf("a transfer beyond the plan: %v", err)
	}
	if st.members[id][ownerID].Role != project.Owner || st.members[id][editorID].Role != project.Editor {
		t.Fatalf("a refused transfer changed the members: %v", st.members[id])
	}
	if _, err := s.TransferOwnership(ctx, as(ownerID), id, adminID); err != nil {
		t.Fatalf("a transfer within the plan: %v", err)
	}
}
