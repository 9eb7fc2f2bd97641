package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/platform/services/platform/events"
)

type project struct {
	ID          string         `json:"id"`
	OwnerID     string         `json:"owner_id"`
	Name        string         `json:"name"`
	Slug        string         `json:"slug"`
	Description string         `json:"description"`
	Visibility  string         `json:"visibility"`
	Tags        []string       `json:"tags"`
	Settings    map[string]any `json:"settings"`
	Archived    bool           `json:"archived"`
	Version     int64          `json:"version"`
	Role        string         `json:"role"`
}

// account is a registered, signed-in user.
type account struct {
	user
	token string
}

func newAccount(t *testing.T, tag string) account {
	t.Helper()
	u := registerUser(t, tag)
	return account{user: u, token: login(t, u.Email, goodPassword).AccessToken}
}

func (a account) do(t *testing.T, method, path string, body any, extra ...string) reply {
	t.Helper()
	h := bearer(a.token)
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return request(t, method, path, body, h)
}

func (a account) createProject(t *testing.T, body map[string]any) (project, string) {
	t.Helper()
	r := a.do(t, "POST", "/v1/projects", body).expect(t, http.StatusCreated)
	var out struct{ Project project }
	r.decode(t, &out)
	return out.Project, r.Header.Get("ETag")
}

func TestProjects_LifecycleWithVersions(t *testing.T) {
	owner := newAccount(t, "owner")
	p, tag := owner.createProject(t, map[string]any{"name": "Acme Rocket", "description": "to the moon",
		"visibility": "private", "tags": []string{"Space", "space", "rockets"}, "settings": map[string]any{"retention_days": 30}})
	if p.Slug != "acme-rocket" || p.Role != "owner" || p.Version != 1 || tag != `"1"` || p.OwnerID != owner.ID {
		t.Fatalf("created %+v etag %s", p, tag)
	}
	if strings.Join(p.Tags, ",") != "rockets,space" || p.Settings["retention_days"] != float64(30) {
		t.Fatalf("tags %v settings %v", p.Tags, p.Settings)
	}
	path := "/v1/projects/" + p.ID
	got := owner.do(t, "GET", path, nil).expect(t, http.StatusOK)
	if got.Header.Get("ETag") != `"1"` {
		t.Fatalf("etag %q", got.Header.Get("ETag"))
	}

	owner.do(t, "PATCH", path, map[string]any{"name": "Acme Rocket 2"}).expectError(t, http.StatusPreconditionRequired, "project.if_match_required")
	owner.do(t, "PATCH", path, map[string]any{"name": "Acme Rocket 2"}, "If-Match", `"7"`).expectError(t, http.StatusPreconditionFailed, "project.version_mismatch")
	owner.do(t, "PATCH", path, map[string]any{"name": "Acme Rocket 2"}, "If-Match", "7").expectError(t, http.StatusBadRequest, "request.if_match_invalid")
	r := owner.do(t, "PATCH", path, map[string]any{"name": "Acme Rocket 2", "visibility": "internal"}, "If-Match", `"1"`).expect(t, http.StatusOK)
	var upd struct{ Project project }
	r.decode(t, &upd)
	if upd.Project.Name != "Acme Rocket 2" || upd.Project.Visibility != "internal" || upd.Project.Version != 2 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("updated %+v etag %s", upd.Project, r.Header.Get("ETag"))
	}
	// The slug stays: links keep working after a rename.
	if upd.Project.Slug != "acme-rocket" {
		t.Fatalf("slug changed to %s", upd.Project.Slug)
	}

	owner.do(t, "POST", path+"/archive", nil).expect(t, http.StatusOK)
	owner.do(t, "POST", path+"/archive", nil).expectError(t, http.StatusConflict, "project.already_archived")
	owner.do(t, "PATCH", path, map[string]any{"name": "x"}, "If-Match", `"3"`).expectError(t, http.StatusConflict, "project.archived")
	owner.do(t, "POST", path+"/restore", nil).expect(t, http.StatusOK)
	owner.do(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
	owner.do(t, "GET", path, nil).expectError(t, http.StatusNotFound, "project.not_found")
	owner.do(t, "DELETE", path, nil).expectError(t, http.StatusNotFound, "project.not_found")
}

func TestProjects_DuplicateSlugPerOwner(t *testing.T) {
	a, b := newAccount(t, "slug-a"), newAccount(t, "slug-b")
	a.createProject(t, map[string]any{"name": "Same", "slug": "same"})
	a.do(t, "POST", "/v1/projects", map[string]any{"name": "Other", "slug": "same"}).expectError(t, http.StatusConflict, "project.slug_taken")
	b.createProject(t, map[string]any{"name": "Same", "slug": "same"}) // another owner may use it
}

func TestProjects_ConcurrentUpdatesExactlyOneWins(t *testing.T) {
	owner := newAccount(t, "race")
	p, _ := owner.createProject(t, map[string]any{"name": "Race"})
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		version := fmt.Sprintf(`"%d"`, p.Version+int64(round))
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = owner.do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"description": fmt.Sprintf("writer %d round %d", i, round)},
					"If-Match", version).Status
			}()
		}
		wg.Wait()
		sort.Ints(statuses)
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusPreconditionFailed {
			t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, statuses)
		}
	}
}

func TestProjects_MembersAndRoles(t *testing.T) {
	owner, admin, editor, viewer, outsider := newAccount(t, "m-owner"), newAccount(t, "m-admin"), newAccount(t, "m-editor"),
		newAccount(t, "m-viewer"), newAccount(t, "m-outsider")
	p, _ := owner.createProject(t, map[string]any{"name": "Team Space"})
	members := "/v1/projects/" + p.ID + "/members"
	owner.do(t, "POST", members, map[string]any{"user_id": admin.ID, "role": "admin"}).expect(t, http.StatusCreated)
	admin.do(t, "POST", members, map[string]any{"user_id": editor.ID, "role": "editor"}).expect(t, http.StatusCreated)
	admin.do(t, "POST", members, map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	admin.do(t, "POST", members, map[string]any{"user_id": viewer.ID, "role": "viewer"}).expectError(t, http.StatusConflict, "member.exists")
	admin.do(t, "POST", members, map[string]any{"user_id": outsider.ID, "role": "owner"}).expectError(t, http.StatusForbidden, "member.owner_only")
	owner.do(t, "POST", members, map[string]any{"user_id": "3f0c2a7e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "role": "viewer"}).
		expectError(t, http.StatusNotFound, "user.not_found")

	var list struct {
		Members []struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		}
	}
	viewer.do(t, "GET", members, nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Members) != 4 || list.Members[0].Role != "owner" || list.Members[0].UserID != owner.ID {
		t.Fatalf("members %+v", list.Members)
	}

	path := "/v1/projects/" + p.ID
	viewer.do(t, "PATCH", path, map[string]any{"name": "x"}, "If-Match", `"4"`).expectError(t, http.StatusForbidden, "project.forbidden")
	editor.do(t, "PATCH", path, map[string]any{"name": "Team Space 2"}, "If-Match", `"4"`).expect(t, http.StatusOK)
	editor.do(t, "POST", members, map[string]any{"user_id": outsider.ID, "role": "viewer"}).expectError(t, http.StatusForbidden, "project.forbidden")
	editor.do(t, "DELETE", path, nil).expectError(t, http.StatusForbidden, "project.forbidden")
	admin.do(t, "DELETE", path, nil).expectError(t, http.StatusForbidden, "project.forbidden")
	outsider.do(t, "GET", path, nil).expectError(t, http.StatusNotFound, "project.not_found")
	outsider.do(t, "GET", members, nil).expectError(t, http.StatusNotFound, "project.not_found")

	// The last owner cannot leave or be demoted.
	owner.do(t, "DELETE", members+"/"+owner.ID, nil).expectError(t, http.StatusConflict, "member.last_owner")
	owner.do(t, "PATCH", members+"/"+owner.ID, map[string]any{"role": "admin"}).expectError(t, http.StatusConflict, "member.last_owner")
	admin.do(t, "PATCH", members+"/"+owner.ID, map[string]any{"role": "viewer"}).expectError(t, http.StatusForbidden, "member.owner_only")

	// Roles change; a member may leave by itself.
	admin.do(t, "PATCH", members+"/"+viewer.ID, map[string]any{"role": "editor"}).expect(t, http.StatusOK)
	viewer.do(t, "DELETE", members+"/"+viewer.ID, nil).expect(t, http.StatusNoContent)
	viewer.do(t, "GET", path, nil).expectError(t, http.StatusNotFound, "project.not_found")
	admin.do(t, "DELETE", members+"/"+viewer.ID, nil).expectError(t, http.StatusNotFound, "member.not_found")

	// Ownership moves to the admin; the old owner becomes an admin.
	owner.do(t, "POST", path+"/transfer", map[string]any{"new_owner_id": outsider.ID}).expectError(t, http.StatusNotFound, "member.not_found")
	var tr struct{ Project project }
	owner.do(t, "POST", path+"/transfer", map[string]any{"new_owner_id": admin.ID}).expect(t, http.StatusOK).decode(t, &tr)
	if tr.Project.OwnerID != admin.ID || tr.Project.Role != "admin" {
		t.Fatalf("after transfer %+v", tr.Project)
	}
	owner.do(t, "DELETE", path, nil).expectError(t, http.StatusForbidden, "project.forbidden")
	admin.do(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
}

func TestProjects_VisibilityDecidesWhoSees(t *testing.T) {
	owner, other := newAccount(t, "vis-owner"), newAccount(t, "vis-other")
	priv, _ := owner.createProject(t, map[string]any{"name": "Secret", "visibility": "private"})
	internal, _ := owner.createProject(t, map[string]any{"name": "Shared", "visibility": "internal"})
	other.do(t, "GET", "/v1/projects/"+priv.ID, nil).expectError(t, http.StatusNotFound, "project.not_found")
	var seen struct{ Project project }
	other.do(t, "GET", "/v1/projects/"+internal.ID, nil).expect(t, http.StatusOK).decode(t, &seen)
	if seen.Project.Role != "" {
		t.Fatalf("a non-member got role %q", seen.Project.Role)
	}
	other.do(t, "PATCH", "/v1/projects/"+internal.ID, map[string]any{"name": "mine"}, "If-Match", `"1"`).expectError(t, http.StatusForbidden, "project.forbidden")
	other.do(t, "POST", "/v1/projects/"+internal.ID+"/archive", nil).expectError(t, http.StatusForbidden, "project.forbidden")
	other.do(t, "DELETE", "/v1/projects/"+priv.ID, nil).expectError(t, http.StatusNotFound, "project.not_found")
}

func TestProjects_ListPagesAndFuzzySearch(t *testing.T) {
	a := newAccount(t, "list")
	a.subscribe(t, "pro") // five projects: more than the free plan's three
	names := []string{"Acme Platform Core", "Billing Engine", "Customer Portal", "Data Lake", "Edge Gateway"}
	for _, n := range names {
		a.createProject(t, map[string]any{"name": n})
	}
	var seen []string
	token := ""
	for pages := 0; ; pages++ {
		q := "/v1/projects?page_size=2&sort=name&order=asc"
		if token != "" {
			q += "&page_token=" + token
		}
		var page struct {
			Projects      []project
			NextPageToken string `json:"next_page_token"`
		}
		a.do(t, "GET", q, nil).expect(t, http.StatusOK).decode(t, &page)
		for _, p := range page.Projects {
			seen = append(seen, p.Name)
		}
		if page.NextPageToken == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		token = page.NextPageToken
	}
	if strings.Join(seen, "|") != strings.Join(names, "|") {
		t.Fatalf("pages gave %v", seen)
	}
	a.do(t, "GET", "/v1/projects?page_size=2&sort=updated_at&page_token="+token, nil).expectError(t, http.StatusBadRequest, "project.page_token_invalid")

	var found struct{ Projects []project }
	a.do(t, "GET", "/v1/projects/search?q=platfrom", nil).expect(t, http.StatusOK).decode(t, &found)
	if len(found.Projects) == 0 || found.Projects[0].Name != "Acme Platform Core" {
		t.Fatalf("search for a typo found %+v", found.Projects)
	}
	// Search sees only the caller's projects.
	other := newAccount(t, "list-other")
	other.do(t, "GET", "/v1/projects/search?q=platform", nil).expect(t, http.StatusOK).decode(t, &found)
	if len(found.Projects) != 0 {
		t.Fatalf("another user found %+v", found.Projects)
	}
}

func TestProjects_BadInput(t *testing.T) {
	a := newAccount(t, "pbad")
	p, _ := a.createProject(t, map[string]any{"name": "Bad Input"})
	path := "/v1/projects/" + p.ID
	long := strings.Repeat("n", 101)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
		extra              []string
	}{
		{"malformed json", "POST", "/v1/projects", `{"name":`, 400, "request.malformed_json", "", nil},
		{"missing name", "POST", "/v1/projects", map[string]any{"slug": "x"}, 400, "request.field_required", "name", nil},
		{"unknown field", "POST", "/v1/projects", map[string]any{"name": "x", "owner": "me"}, 400, "request.unknown_field", "owner", nil},
		{"wrong type", "POST", "/v1/projects", map[string]any{"name": 5}, 400, "request.invalid_type", "name", nil},
		{"tags not array", "POST", "/v1/projects", map[string]any{"name": "x", "tags": "a"}, 400, "request.invalid_type", "tags", nil},
		{"overlong name", "POST", "/v1/projects", map[string]any{"name": long}, 400, "request.field_too_long", "name", nil},
		{"blank name", "POST", "/v1/projects", map[string]any{"name": "  "}, 400, "project.name_required", "name", nil},
		{"invalid slug", "POST", "/v1/projects", map[string]any{"name": "x", "slug": "Bad_Slug"}, 400, "project.slug_invalid", "slug", nil},
		{"bad visibility", "POST", "/v1/projects", map[string]any{"name": "x", "visibility": "secret"}, 400, "project.visibility_invalid", "visibility", nil},
		{"bad tag", "POST", "/v1/projects", map[string]any{"name": "x", "tags": []string{"no spaces"}}, 400, "project.tag_invalid", "tags", nil},
		{"settings unknown key", "POST", "/v1/projects", map[string]any{"name": "x", "settings": map[string]any{"colour": "red"}}, 400, "project.settings_invalid", "settings", nil},
		{"settings wrong type", "POST", "/v1/projects", map[string]any{"name": "x", "settings": map[string]any{"retention_days": "ten"}}, 400, "project.settings_invalid", "settings", nil},
		{"settings not object", "POST", "/v1/projects", map[string]any{"name": "x", "settings": []int{1}}, 400, "request.invalid_type", "settings", nil},
		{"bad page size", "GET", "/v1/projects?page_size=0", nil, 400, "request.query_invalid", "page_size", nil},
		{"bad sort", "GET", "/v1/projects?sort=owner", nil, 400, "project.sort_invalid", "sort", nil},
		{"bad order", "GET", "/v1/projects?order=up", nil, 400, "project.order_invalid", "order", nil},
		{"garbage cursor", "GET", "/v1/projects?page_token=abc", nil, 400, "project.page_token_invalid", "page_token", nil},
		{"short query", "GET", "/v1/projects/search?q=a", nil, 400, "project.query_invalid", "q", nil},
		{"patch unknown field", "PATCH", path, map[string]any{"slug": "new"}, 400, "request.unknown_field", "slug", []string{"If-Match", `"1"`}},
		{"patch bad settings", "PATCH", path, map[string]any{"settings": map[string]any{"retention_days": 0}}, 400, "project.settings_invalid", "settings", []string{"If-Match", `"1"`}},
		{"member bad role", "POST", path + "/members", map[string]any{"user_id": a.ID, "role": "god"}, 400, "member.role_invalid", "role", nil},
		{"member bad id", "POST", path + "/members", map[string]any{"user_id": "nope", "role": "viewer"}, 400, "member.user_id_invalid", "user_id", nil},
		{"member missing role", "POST", path + "/members", map[string]any{"user_id": a.ID}, 400, "request.field_required", "role", nil},
		{"transfer to self", "POST", path + "/transfer", map[string]any{"new_owner_id": a.ID}, 400, "member.transfer_to_self", "new_owner_id", nil},
		{"not an id", "GET", "/v1/projects/not-an-id", nil, 404, "project.not_found", "", nil},
		{"oversized", "POST", "/v1/projects", map[string]any{"name": "x", "description": strings.Repeat("d", 70<<10)}, 413, "request.too_large", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := a.do(t, tc.method, tc.path, tc.body, tc.extra...).expectError(t, tc.status, tc.code)
			if e.Error.Field != tc.field {
				t.Fatalf("field %q, want %q", e.Error.Field, tc.field)
			}
		})
	}
	// Nothing above changed the project.
	var after struct{ Project project }
	a.do(t, "GET", path, nil).expect(t, http.StatusOK).decode(t, &after)
	if after.Project.Version != 1 {
		t.Fatalf("version %d after refused requests", after.Project.Version)
	}
}

// Every mutation's event reaches Kafka once, in order, keyed by the project id, with one aggregate
// version per event.
func TestProjects_EventsInOrderPerProject(t *testing.T) {
	owner, member := newAccount(t, "ev-owner"), newAccount(t, "ev-member")
	p, _ := owner.createProject(t, map[string]any{"name": "Evented"})
	path := "/v1/projects/" + p.ID
	owner.do(t, "PATCH", path, map[string]any{"description": "d"}, "If-Match", `"1"`).expect(t, http.StatusOK)
	owner.do(t, "POST", path+"/members", map[string]any{"user_id": member.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	owner.do(t, "PATCH", path+"/members/"+member.ID, map[string]any{"role": "editor"}).expect(t, http.StatusOK)
	owner.do(t, "DELETE", path+"/members/"+member.ID, nil).expect(t, http.StatusNoContent)
	owner.do(t, "POST", path+"/archive", nil).expect(t, http.StatusOK)
	owner.do(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
	want := []string{"project.created", "project.updated", "project.member_added", "project.member_role_changed",
		"project.member_removed", "project.archived", "project.deleted"}

	var got []events.Envelope
	readTopic(t, events.TopicProjects, func(c consumed) bool {
		if c.Event.Subject == p.ID {
			got = append(got, c.Event)
		}
		return len(got) == len(want)
	})
	var types []string
	for i, e := range got {
		types = append(types, e.Type)
		if e.AggregateVersion != int64(i+1) || e.Subject != p.ID || e.Actor != owner.ID {
			t.Errorf("event %d: %s version %d subject %s actor %s", i, e.Type, e.AggregateVersion, e.Subject, e.Actor)
		}
	}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v once each in order", types, want)
	}
}

type sinkView struct {
	Version  int64             `json:"version"`
	Members  map[string]string `json:"members"`
	Received []struct {
		EventID string `json:"event_id"`
		Type    string `json:"type"`
		Version int64  `json:"version"`
		Applied bool   `json:"applied"`
	} `json:"received"`
}

// sinkState polls the test consumer until ok holds for the project, or 10 s pass.
func sinkState(t *testing.T, projectID string, ok func(sinkView) bool) sinkView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var v sinkView
	for {
		resp, err := httpClient.Get(env.sinkURL + "/projects/" + projectID)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				v = sinkView{}
				_ = json.NewDecoder(resp.Body).Decode(&v)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ok(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("event sink state for %s after 10 s: %+v (last error %v)", projectID, v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A consumer subscribed through Dapr gets each event once and in order, and a replayed old
// member_added (as an at-least-once redelivery would bring it) does not undo the later removal.
func TestEvents_ThroughADaprSubscriptionOnceInOrderAndStaleIgnored(t *testing.T) {
	owner, member := newAccount(t, "sink-owner"), newAccount(t, "sink-member")
	p, _ := owner.createProject(t, map[string]any{"name": "Sunk"})
	path := "/v1/projects/" + p.ID
	owner.do(t, "POST", path+"/members", map[string]any{"user_id": member.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	owner.do(t, "PATCH", path+"/members/"+member.ID, map[string]any{"role": "editor"}).expect(t, http.StatusOK)
	owner.do(t, "DELETE", path+"/members/"+member.ID, nil).expect(t, http.StatusNoContent)
	owner.do(t, "PATCH", path, map[string]any{"description": "after"}, "If-Match", `"4"`).expect(t, http.StatusOK)

	v := sinkState(t, p.ID, func(v sinkView) bool { return v.Version == 5 })
	want := []string{"project.created", "project.member_added", "project.member_role_changed", "project.member_removed", "project.updated"}
	seen := map[string]bool{}
	for i, r := range v.Received {
		if i >= len(want) || r.Type != want[i] || r.Version != int64(i+1) || !r.Applied || seen[r.EventID] {
			t.Fatalf("received %+v, want %v once each in order", v.Received, want)
		}
		seen[r.EventID] = true
	}
	if len(v.Received) != len(want) || len(v.Members) != 1 || v.Members[owner.ID] != "owner" {
		t.Fatalf("received %d events, members %v", len(v.Received), v.Members)
	}

	// Replay member_added: the very record the outbox published, produced to Kafka again.
	var added *kgo.Record
	cl := readTopic(t, events.TopicProjects, func(c consumed) bool {
		if c.Event.Subject == p.ID && c.Event.Type == "project.member_added" {
			added = c.Record
		}
		return added != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	replay := &kgo.Record{Topic: events.TopicProjects, Key: added.Key, Value: added.Value, Headers: added.Headers}
	if err := cl.ProduceSync(ctx, replay).FirstErr(); err != nil {
		t.Fatal(err)
	}
	v = sinkState(t, p.ID, func(v sinkView) bool { return len(v.Received) == len(want)+1 })
	last := v.Received[len(v.Received)-1]
	if last.Type != "project.member_added" || last.Applied || v.Version != 5 || len(v.Members) != 1 {
		t.Fatalf("after the replay: last %+v, version %d, members %v", last, v.Version, v.Members)
	}
}

// A consumer that fails is retried under the resiliency policy (3 retries for deliveries, see
// components/local/resiliency.yaml), then the message goes to its dead-letter topic; the events of
// other projects keep flowing.
func TestEvents_AFailingConsumerIsRetriedThenDeadLettered(t *testing.T) {
	owner := newAccount(t, "retry-owner")
	failing, _ := owner.createProject(t, map[string]any{"name": "Refused"})
	sinkState(t, failing.ID, func(v sinkView) bool { return v.Version == 1 })
	resp, err := httpClient.Post(env.sinkURL+"/fail/"+failing.ID, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	owner.do(t, "PATCH", "/v1/projects/"+failing.ID, map[string]any{"description": "refused"}, "If-Match", `"1"`).expect(t, http.StatusOK)
	var updated consumed
	readTopic(t, events.TopicProjects, func(c consumed) bool {
		if c.Event.Subject == failing.ID && c.Event.Type == "project.updated" {
			updated = c
			return true
		}
		return false
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var dead []struct {
			EventID string `json:"event_id"`
		}
		r, err := httpClient.Get(env.sinkURL + "/dead")
		if err == nil {
			_ = json.NewDecoder(r.Body).Decode(&dead)
			r.Body.Close()
		}
		found := false
		for _, d := range dead {
			found = found || d.EventID == updated.Event.EventID
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused event did not reach the dead-letter topic within 20 s: %+v", dead)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var attempts struct{ Attempts int }
	r, err := httpClient.Get(env.sinkURL + "/attempts/" + updated.Event.EventID)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(r.Body).Decode(&attempts)
	r.Body.Close()
	if attempts.Attempts != 4 {
		t.Fatalf("%d deliveries, want 4: the first and the policy's 3 retries", attempts.Attempts)
	}
	// Another project's events were not held up for good.
	other, _ := owner.createProject(t, map[string]any{"name": "Unrefused"})
	sinkState(t, other.ID, func(v sinkView) bool { return v.Version == 1 })
}

// Issue 11, item 5: a project's Slack webhook URL is a credential: its editors and up see it; viewers
// and, on an internal project, other signed-in users do not — in GET and in lists.
func TestProjects_SettingsCredentialsOnlyForEditors(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/secret"
	owner := newAccount(t, "slack-owner")
	p, _ := owner.createProject(t, map[string]any{"name": "Chatty", "visibility": "internal",
		"settings": map[string]any{"notifications": map[string]any{"slack": true, "slack_webhook_url": hook}}})
	editor, viewer, stranger := newAccount(t, "slack-editor"), newAccount(t, "slack-viewer"), newAccount(t, "slack-stranger")
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": editor.ID, "role": "editor"}).expect(t, http.StatusCreated)
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	hookOf := func(r reply) any {
		var out struct{ Project project }
		r.expect(t, http.StatusOK).decode(t, &out)
		n, _ := out.Project.Settings["notifications"].(map[string]any)
		if n == nil || n["slack"] != true {
			t.Fatalf("the rest of the settings is gone: %v", out.Project.Settings)
		}
		return n["slack_webhook_url"]
	}
	for _, a := range []account{owner, editor} {
		if got := hookOf(a.do(t, "GET", "/v1/projects/"+p.ID, nil)); got != hook {
			t.Errorf("%s does not see the hook: %v", a.Email, got)
		}
	}
	for _, a := range []account{viewer, stranger} {
		if got := hookOf(a.do(t, "GET", "/v1/projects/"+p.ID, nil)); got != nil {
			t.Errorf("%s sees the hook", a.Email)
		}
	}
	var list struct{ Projects []project }
	viewer.do(t, "GET", "/v1/projects", nil).expect(t, http.StatusOK).decode(t, &list)
	for _, lp := range list.Projects {
		if n, _ := lp.Settings["notifications"].(map[string]any); lp.ID == p.ID && n["slack_webhook_url"] != nil {
			t.Error("the viewer's list shows the hook")
		}
	}
}
