package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type searchHit struct {
	ID          string              `json:"id"`
	Type        string              `json:"type"`
	Title       string              `json:"title"`
	ProjectID   string              `json:"project_id"`
	ContentType string              `json:"content_type"`
	Visibility  string              `json:"visibility"`
	Tags        []string            `json:"tags"`
	OwnerID     string              `json:"owner_id"`
	Archived    bool                `json:"archived"`
	Highlights  map[string][]string `json:"highlights"`
}

type searchResults struct {
	Total   int         `json:"total"`
	Results []searchHit `json:"results"`
	Facets  map[string][]struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	} `json:"facets"`
	NextPageToken string `json:"next_page_token"`
}

func (r searchResults) ids() []string {
	out := []string{}
	for _, h := range r.Results {
		out = append(out, h.ID)
	}
	sort.Strings(out)
	return out
}

func (r searchResults) facet(name string) map[string]int {
	out := map[string]int{}
	for _, f := range r.Facets[name] {
		out[f.Value] = f.Count
	}
	return out
}

// searchAs runs GET /v1/search with query as the account (token "" for anonymous).
func searchAs(t *testing.T, token string, query url.Values) searchResults {
	t.Helper()
	var h map[string]string
	if token != "" {
		h = bearer(token)
	}
	var out searchResults
	request(t, "GET", "/v1/search?"+query.Encode(), nil, h).expect(t, http.StatusOK).decode(t, &out)
	return out
}

// searchUntil repeats a search until ok accepts the result (the index follows events), up to 15 s.
func searchUntil(t *testing.T, token string, query url.Values, what string, ok func(searchResults) bool) searchResults {
	t.Helper()
	var res searchResults
	if !eventually(15*time.Second, 20*time.Millisecond, func() bool { res = searchAs(t, token, query); return ok(res) }) {
		t.Fatalf("%s: still %d results %v after 15s", what, res.Total, res.ids())
	}
	return res
}

func newNamedAccount(t *testing.T, name string) account {
	t.Helper()
	email := uniqueEmail(strings.ToLower(strings.Fields(name)[0]))
	r := request(t, "POST", "/v1/users", map[string]any{"email": email, "password": goodPassword, "display_name": name, "region": "us"}, nil)
	var out struct{ User user }
	r.expect(t, http.StatusCreated).decode(t, &out)
	return account{user: out.User, token: login(t, email, goodPassword).AccessToken}
}

func sorted(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

// A search through the gateway: projects of different owners and visibilities, found by a typo,
// narrowed by filters, counted by facets, paged by cursor, and never showing a caller what they may
// not see (not in the results, not in the total, not in a facet count).
func TestSearch_PermissionAwareWithFiltersFacetsAndTypos(t *testing.T) {
	word := fmt.Sprintf("Quasar%d", time.Now().UnixNano()%100000) // unique to this run
	alice, bob, carol := newNamedAccount(t, "Ophelia Searchwright"), newNamedAccount(t, "Bob Searchwright"), newNamedAccount(t, "Carol Searchwright")
	pub, _ := alice.createProject(t, map[string]any{"name": word + " Observatory", "visibility": "public", "tags": []string{"astro", "go"},
		"description": "Telescopes and " + word + " maps"})
	internal, _ := alice.createProject(t, map[string]any{"name": word + " Handbook", "visibility": "internal", "tags": []string{"docs"}})
	alicePriv, _ := alice.createProject(t, map[string]any{"name": word + " Secret Lab", "visibility": "private", "tags": []string{"astro", "secret"}})
	bobPriv, _ := bob.createProject(t, map[string]any{"name": word + " Stash", "visibility": "private", "tags": []string{"secret"}})
	bob.do(t, "POST", "/v1/projects/"+bobPriv.ID+"/members", map[string]any{"user_id": carol.ID, "role": "viewer"}).expect(t, http.StatusCreated)

	q := url.Values{"q": {word}}
	all := searchUntil(t, asAdminToken(t), q, "admin sees all four", func(r searchResults) bool { return r.Total == 4 })
	if !slices.Equal(all.ids(), sorted(pub.ID, internal.ID, alicePriv.ID, bobPriv.ID)) {
		t.Fatalf("admin: %v", all.ids())
	}
	// Carol's membership arrives as its own event.
	searchUntil(t, carol.token, q, "carol sees bob's private project", func(r searchResults) bool { return r.Total == 3 })

	t.Run("each caller sees what they may", func(t *testing.T) {
		cases := []struct {
			who   string
			token string
			want  []string
			vis   map[string]int
		}{
			{"anonymous", "", []string{pub.ID}, map[string]int{"public": 1}},
			{"alice (owner of three)", alice.token, []string{pub.ID, internal.ID, alicePriv.ID}, map[string]int{"public": 1, "internal": 1, "private": 1}},
			{"carol (member of bob's)", carol.token, []string{pub.ID, internal.ID, bobPriv.ID}, map[string]int{"public": 1, "internal": 1, "private": 1}},
		}
		for _, tc := range cases {
			res := searchAs(t, tc.token, q)
			if !slices.Equal(res.ids(), sorted(tc.want...)) || res.Total != len(tc.want) {
				t.Errorf("%s: %d %v, want %v", tc.who, res.Total, res.ids(), tc.want)
			}
			if got := res.facet("visibility"); fmt.Sprint(got) != fmt.Sprint(tc.vis) {
				t.Errorf("%s: visibility facet %v, want %v", tc.who, got, tc.vis)
			}
		}
		// The secret tag is counted for each caller only on projects they may see.
		if got := searchAs(t, "", q).facet("tags"); got["secret"] != 0 || got["astro"] != 1 {
			t.Errorf("anonymous tag facet %v: leaks private projects", got)
		}
		if got := searchAs(t, alice.token, q).facet("tags"); got["secret"] != 1 || got["astro"] != 2 {
			t.Errorf("alice's tag facet %v, want secret 1 (hers only), astro 2", got)
		}
		// Asking for private projects does not widen anything.
		if res := searchAs(t, "", url.Values{"q": {word}, "visibility": {"private"}}); res.Total != 0 {
			t.Errorf("anonymous asking for private projects got %v", res.ids())
		}
	})

	t.Run("typos are tolerated and matches highlighted", func(t *testing.T) {
		typo := word[:2] + word[3:] // one letter dropped
		res := searchAs(t, alice.token, url.Values{"q": {typo}, "type": {"project"}})
		if res.Total != 3 {
			t.Fatalf("%q found %v", typo, res.ids())
		}
		for _, h := range res.Results {
			if !slices.ContainsFunc(h.Highlights["title"], func(s string) bool { return strings.Contains(s, "<mark>"+word+"</mark>") }) {
				t.Errorf("%s: title highlights %v", h.Title, h.Highlights)
			}
		}
		people := searchAs(t, carol.token, url.Values{"q": {"Serchwright"}, "type": {"user"}}) // for Searchwright
		if people.Total < 3 || people.Results[0].Type != "user" {
			t.Errorf("people by a misspelt name: %d %v", people.Total, people.ids())
		}
		if anon := searchAs(t, "", url.Values{"q": {"Searchwright"}, "type": {"user"}}); anon.Total != 0 {
			t.Errorf("anonymous callers found %d people", anon.Total)
		}
	})

	t.Run("filters narrow", func(t *testing.T) {
		cases := []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"tag astro", url.Values{"tag": {"astro"}}, []string{pub.ID, alicePriv.ID}},
			{"tags astro and secret", url.Values{"tag": {"astro,secret"}}, []string{alicePriv.ID}},
			{"visibility", url.Values{"visibility": {"internal", "public"}}, []string{pub.ID, internal.ID}},
			{"owner", url.Values{"owner": {alice.ID}, "type": {"project"}}, []string{pub.ID, internal.ID, alicePriv.ID}},
			{"created in the future", url.Values{"created_from": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, nil},
			{"created before now", url.Values{"created_to": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339)}, "type": {"project"}}, []string{pub.ID, internal.ID, alicePriv.ID}},
		}
		for _, tc := range cases {
			tc.query.Set("q", word)
			if res := searchAs(t, alice.token, tc.query); !slices.Equal(res.ids(), sorted(tc.want...)) {
				t.Errorf("%s: %v, want %v", tc.name, res.ids(), tc.want)
			}
		}
		alice.do(t, "POST", "/v1/projects/"+internal.ID+"/archive", nil).expect(t, http.StatusOK)
		archived := url.Values{"q": {word}, "archived": {"true"}}
		res := searchUntil(t, alice.token, archived, "archived project", func(r searchResults) bool { return r.Total == 1 })
		if res.Results[0].ID != internal.ID || !res.Results[0].Archived {
			t.Errorf("archived filter: %+v", res.Results)
		}
		if res := searchAs(t, alice.token, url.Values{"q": {word}, "archived": {"false"}}); res.Total != 2 {
			t.Errorf("not archived: %v", res.ids())
		}
	})

	t.Run("a cursor pages through everything once", func(t *testing.T) {
		for _, sortBy := range []string{"title", "created_at", "relevance"} {
			seen := []string{}
			query := url.Values{"q": {word}, "sort": {sortBy}, "page_size": {"1"}}
			for page := 0; page < 10; page++ {
				res := searchAs(t, asAdminToken(t), query)
				for _, h := range res.Results {
					seen = append(seen, h.ID)
				}
				if res.NextPageToken == "" {
					break
				}
				query.Set("page_token", res.NextPageToken)
			}
			if !slices.Equal(sorted(seen...), all.ids()) {
				t.Errorf("sort %s: pages gave %v, want each of %v once", sortBy, seen, all.ids())
			}
		}
	})

	t.Run("a removed member stops seeing the project", func(t *testing.T) {
		bob.do(t, "DELETE", "/v1/projects/"+bobPriv.ID+"/members/"+carol.ID, nil).expect(t, http.StatusNoContent)
		searchUntil(t, carol.token, url.Values{"q": {word}, "visibility": {"private"}}, "carol removed",
			func(r searchResults) bool { return r.Total == 0 })
	})
}

func asAdminToken(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(asAdmin(t)["Authorization"], "Bearer ")
}

func TestSearch_RejectsBadInput(t *testing.T) {
	a := newAccount(t, "search-bad")
	cases := []struct {
		query, field string
	}{
		{"type=invoice", "types"},
		{"visibility=secret", "visibility"},
		{"sort=popularity", "sort"},
		{"order=sideways", "order"},
		{"page_size=0", "page_size"},
		{"page_size=101", "page_size"},
		{"page_size=ten", "page_size"},
		{"created_from=yesterday", "created_from"},
		{"created_from=2026-02-01T00:00:00Z&created_to=2026-01-01T00:00:00Z", "created_to"},
		{"archived=maybe", "archived"},
		{"page_token=not-a-token", "page_token"},
		{"q=" + strings.Repeat("x", 201), "q"},
		{"tag=" + strings.Repeat("t,", 11), "tags"},
		{"type=files", "types"},
		{"project_id=" + strings.Repeat("p", 65), "project_id"},
	}
	for _, tc := range cases {
		body := a.do(t, "GET", "/v1/search?"+tc.query, nil).expect(t, http.StatusBadRequest)
		var e errorBody
		body.decode(t, &e)
		if e.Error.Field != tc.field || e.Error.Code == "" {
			t.Errorf("%s: error %+v, want field %s", tc.query, e.Error, tc.field)
		}
	}
	// A token that is sent must be valid, even though no token is needed.
	request(t, "GET", "/v1/search?q=x", nil, bearer("not-a-token")).expectError(t, http.StatusUnauthorized, "auth.invalid_token")
	// A page token of one sort order is refused by another.
	res := searchAs(t, a.token, url.Values{"sort": {"title"}, "page_size": {"1"}})
	if res.NextPageToken == "" {
		t.Fatal("no second page")
	}
	a.do(t, "GET", "/v1/search?sort=created_at&page_token="+url.QueryEscape(res.NextPageToken), nil).expectError(t, http.StatusBadRequest, "search.page_token_invalid")
}

// How long from a committed write to its being searchable, measured through the gateway: create a
// project, then search for it until it appears. Reported, not asserted (a timing is no test).
func TestSearch_EventToSearchableLatency(t *testing.T) {
	a := newAccount(t, "search-latency")
	a.subscribe(t, "enterprise") // a hundred projects
	const n = 100
	var lat []time.Duration
	for i := range n {
		word := fmt.Sprintf("Latency%dx%d", time.Now().UnixNano()%1000000, i)
		p, _ := a.createProject(t, map[string]any{"name": word, "visibility": "private"})
		created := time.Now()
		// The names differ in a digit or two, and search is typo tolerant: an earlier project can
		// match first (on Elasticsearch, for the second before the new one is refreshed). What is
		// measured is the time until this project is among the results.
		var res searchResults
		if !eventually(15*time.Second, 2*time.Millisecond, func() bool {
			res = searchAs(t, a.token, url.Values{"q": {word}, "page_size": {"100"}})
			return slices.Contains(res.ids(), p.ID)
		}) {
			t.Fatalf("%s not searchable after 15s (found %v)", word, res.ids())
		}
		lat = append(lat, time.Since(created))
	}
	slices.Sort(lat)
	p50, p99 := lat[n/2], lat[(n*99+99)/100-1]
	t.Logf("event -> searchable over %d projects: p50 %v, p99 %v, max %v (polled every 2ms plus a search round trip)", n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[n-1].Round(time.Millisecond))
	// The search service's own histogram saw those events.
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", env.topo.App("search").AppMetricsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^acme_search_freshness_seconds_count(\{[^}]*\})? (\d+)`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatal("acme_search_freshness_seconds is not exported")
	}
	if count, _ := strconv.Atoi(m[2]); count < n {
		t.Errorf("freshness histogram counted %d events, want at least %d", count, n)
	}
}

// The reindex command rebuilds the index from the users, projects and files scan APIs through Dapr
// and reports its progress; every account, project and clean file is read, and search answers the
// same afterwards, a file with its project's access.
func TestSearch_ReindexRebuildsFromTheSources(t *testing.T) {
	a := newAccount(t, "search-reindex")
	word := fmt.Sprintf("Reindex%d", time.Now().UnixNano()%100000)
	p, _ := a.createProject(t, map[string]any{"name": word + " Target", "visibility": "private", "tags": []string{"rebuild"}})
	f := a.uploadOK(t, p.ID, word+"-notes.txt", "text/plain", []byte("rebuilt notes"))
	searchUntil(t, a.token, url.Values{"q": {word}}, "before the reindex", func(r searchResults) bool { return r.Total == 2 })
	before := searchAs(t, asAdminToken(t), url.Values{"page_size": {"1"}}).Total

	root, _ := filepath.Abs("../..")
	cmd := exec.Command("go", "run", "./services/search/cmd/reindex", "-dapr", fmt.Sprintf("127.0.0.1:%d", env.topo.App("search").GRPCPort), "-timeout", "2m")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DAPR_API_TOKEN="+env.topo.App("search").APIToken) // search's sidecar asks for it
	out, err := cmd.CombinedOutput()
	t.Logf("reindex output:\n%s", out)
	if err != nil {
		t.Fatalf("reindex: %v", err)
	}
	users, projects := countRows(t, env.usersDB, "SELECT count(*) FROM users WHERE erased_at IS NULL"), countRows(t, env.projectsDB, "SELECT count(*) FROM projects")
	files := countRows(t, env.filesDB, "SELECT count(*) FROM files WHERE state = 'clean'")
	text := string(out)
	if !strings.Contains(text, fmt.Sprintf("users: %d read", users)) || !strings.Contains(text, fmt.Sprintf("projects: %d read", projects)) ||
		!strings.Contains(text, fmt.Sprintf("files: %d read", files)) {
		t.Errorf("progress does not show all %d users, %d projects and %d files read", users, projects, files)
	}
	if !regexp.MustCompile(`done: \d+ documents searchable`).MatchString(text) {
		t.Errorf("no final line")
	}
	res := searchAs(t, a.token, url.Values{"q": {word}, "type": {"project"}})
	if res.Total != 1 || res.Results[0].ID != p.ID || !slices.Equal(res.Results[0].Tags, []string{"rebuild"}) {
		t.Errorf("after the reindex: %+v", res.Results)
	}
	res = searchAs(t, a.token, url.Values{"q": {word}, "type": {"file"}})
	if res.Total != 1 || res.Results[0].ID != f.ID || res.Results[0].ProjectID != p.ID || res.Results[0].Visibility != "private" {
		t.Errorf("the file after the reindex: %+v", res.Results)
	}
	if res := searchAs(t, newAccount(t, "search-reindex-stranger").token, url.Values{"q": {word}}); res.Total != 0 {
		t.Errorf("a stranger finds %v in a private project after the reindex", res.ids())
	}
	if after := searchAs(t, asAdminToken(t), url.Values{"page_size": {"1"}}).Total; after < before {
		t.Errorf("the admin's total fell from %d to %d", before, after)
	}
}

func countRows(t *testing.T, dbURL, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// user.erased purges the search index: the person is no longer found by name, and their private
// project (deleted by projects, since nobody else was in it) is gone from the results too.
func TestSearch_ErasedUserIsPurged(t *testing.T) {
	name := fmt.Sprintf("Eraseme%d Person", time.Now().UnixNano()%100000)
	a := newNamedAccount(t, name)
	p, _ := a.createProject(t, map[string]any{"name": strings.Fields(name)[0] + " Diary", "visibility": "internal"})
	viewer := newAccount(t, "search-erase-viewer")
	q := url.Values{"q": {strings.Fields(name)[0]}}
	searchUntil(t, viewer.token, q, "the person and their project", func(r searchResults) bool { return r.Total == 2 })
	a.do(t, "DELETE", "/v1/users/me", nil).expect(t, http.StatusNoContent)
	searchUntil(t, viewer.token, q, "after erasure", func(r searchResults) bool { return r.Total == 0 })
	if res := searchAs(t, asAdminToken(t), url.Values{"q": {p.Name}}); res.Total != 0 {
		t.Errorf("an admin still finds %v", res.ids())
	}
}

// search stopped with its sidecar misses a project's creation, then catches up from its committed
// offset when it comes back.
func TestSearch_CatchesUpAfterBeingDown(t *testing.T) {
	a := newAccount(t, "search-catch-up")
	if err := env.topo.StopApp("search"); err != nil {
		t.Fatal(err)
	}
	word := fmt.Sprintf("Catchup%d", time.Now().UnixNano()%100000)
	p, _ := a.createProject(t, map[string]any{"name": word, "visibility": "private"})
	start := time.Now()
	if err := env.topo.StartAgain(t.Context(), "search"); err != nil {
		t.Fatal(err)
	}
	res := searchUntil(t, a.token, url.Values{"q": {word}}, "after the restart", func(r searchResults) bool { return r.Total == 1 })
	if res.Results[0].ID != p.ID {
		t.Fatalf("found %v", res.ids())
	}
	t.Logf("search restarted and caught up in %.1fs", time.Since(start).Seconds())
}

// Files are found by name by whoever may see their project, and follow the project: a member added
// finds them, a removed one no longer does, a project made internal shows them to every signed-in
// caller; a deleted file, and a deleted project's files, are gone from the results.
func TestSearch_FilesFollowTheirProject(t *testing.T) {
	owner, other := newAccount(t, "search-files-owner"), newAccount(t, "search-files-other")
	word := fmt.Sprintf("Flightplan%d", time.Now().UnixNano()%1000000)
	p, _ := owner.createProject(t, map[string]any{"name": "Files Search", "visibility": "private"})
	f := owner.uploadOK(t, p.ID, word+".txt", "text/plain", []byte("go for launch"))
	q := url.Values{"q": {word}, "type": {"file"}}
	res := searchUntil(t, owner.token, q, "the owner finds the file", func(r searchResults) bool { return r.Total == 1 })
	if h := res.Results[0]; h.ID != f.ID || h.Type != "file" || h.ProjectID != p.ID || h.ContentType != "text/plain" || h.Title != word+".txt" || h.OwnerID != owner.ID {
		t.Fatalf("the file's hit: %+v", h)
	}
	if res := searchAs(t, owner.token, url.Values{"project_id": {p.ID}}); res.Total != 1 || res.Results[0].ID != f.ID {
		t.Errorf("the project's files: %v", res.ids())
	}
	if res := searchAs(t, other.token, q); res.Total != 0 {
		t.Fatalf("a stranger finds a private project's file: %v", res.ids())
	}
	if res := searchAs(t, "", q); res.Total != 0 {
		t.Fatalf("an anonymous caller finds a private project's file: %v", res.ids())
	}
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": other.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	searchUntil(t, other.token, q, "a new member finds the file", func(r searchResults) bool { return r.Total == 1 })
	owner.do(t, "DELETE", "/v1/projects/"+p.ID+"/members/"+other.ID, nil).expect(t, http.StatusNoContent)
	searchUntil(t, other.token, q, "a removed member no longer finds the file", func(r searchResults) bool { return r.Total == 0 })
	owner.do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"visibility": "internal"}, "If-Match", `"3"`).expect(t, http.StatusOK)
	searchUntil(t, other.token, q, "an internal project's file", func(r searchResults) bool { return r.Total == 1 })
	if res := searchAs(t, "", q); res.Total != 0 {
		t.Fatalf("an anonymous caller finds an internal project's file: %v", res.ids())
	}

	owner.do(t, "DELETE", "/v1/files/"+f.ID, nil).expect(t, http.StatusNoContent)
	searchUntil(t, owner.token, q, "a deleted file", func(r searchResults) bool { return r.Total == 0 })

	g := owner.uploadOK(t, p.ID, word+"-second.txt", "text/plain", []byte("second"))
	searchUntil(t, other.token, url.Values{"q": {word + "-second"}, "type": {"file"}}, "the second file", func(r searchResults) bool {
		return r.Total == 1 && r.Results[0].ID == g.ID
	})
	owner.do(t, "DELETE", "/v1/projects/"+p.ID, nil).expect(t, http.StatusNoContent)
	searchUntil(t, asAdminToken(t), url.Values{"project_id": {p.ID}}, "a deleted project's files", func(r searchResults) bool { return r.Total == 0 })
}
