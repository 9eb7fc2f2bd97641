// Package indextest is the conformance suite every index.Index adapter passes (in make test: the
// embedded one, and the Elasticsearch one against OpenSearch, or the Elasticsearch server at
// ELASTICSEARCH_URL), after watermill's pubsub/tests: one set of behaviours, run against each backend.
package indextest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/services/search/internal/index"
)

// Open returns an empty index for one test; the suite closes it.
type Open func(t *testing.T) index.Index

var (
	alice = "11111111-1111-1111-1111-111111111111"
	bob   = "22222222-2222-2222-2222-222222222222"
	carol = "33333333-3333-3333-3333-333333333333"
	day   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func project(id, title, visibility, owner string, created time.Time, tags ...string) index.Document {
	return index.Document{ID: id, Type: index.TypeProject, Title: title, Slug: strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		Description: "The " + title + " project", Tags: tags, Visibility: visibility, OwnerID: owner, Members: []string{owner},
		CreatedAt: created, UpdatedAt: created, Version: 1, MemberVersions: map[string]int64{owner: 1}, EventTime: created}
}

func user(id, name string, created time.Time) index.Document {
	return index.Document{ID: id, Type: index.TypeUser, Title: name, Visibility: index.Internal, OwnerID: id,
		CreatedAt: created, UpdatedAt: created, Version: 1, EventTime: created}
}

// corpus is shared by most tests: three owners, every visibility, users too.
func corpus() []index.Document {
	return []index.Document{
		project("p-public-1", "Platform Roadmap", index.Public, alice, day, "go", "planning"),
		project("p-public-2", "Billing Engine", index.Public, bob, day.Add(24*time.Hour), "go", "payments"),
		project("p-internal", "Platform Handbook", index.Internal, alice, day.Add(48*time.Hour), "docs"),
		project("p-private-a", "Secret Platform Plans", index.Private, alice, day.Add(72*time.Hour), "planning", "secret"),
		project("p-private-b", "Bob Private Notes", index.Private, bob, day.Add(96*time.Hour), "secret"),
		user(alice, "Alice Anders", day),
		user(bob, "Bob Brown", day),
	}
}

func seed(t *testing.T, x index.Index, docs ...index.Document) {
	t.Helper()
	if err := x.Put(context.Background(), docs...); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func search(t *testing.T, x index.Index, q index.Query) index.Result {
	t.Helper()
	res, err := x.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	return res
}

func ids(res index.Result) []string {
	out := []string{}
	for _, h := range res.Hits {
		out = append(out, h.Document.ID)
	}
	slices.Sort(out)
	return out
}

func facet(res index.Result, name string) map[string]int {
	out := map[string]int{}
	for _, f := range res.Facets[name] {
		out[f.Value] = f.Count
	}
	return out
}

func expectIDs(t *testing.T, what string, res index.Result, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := ids(res); !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
	if res.Total != len(want) {
		t.Errorf("%s: total %d, want %d", what, res.Total, len(want))
	}
}

// Run runs every conformance test against indexes from open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, index.Index)
	}{
		{"PutAndGet_RoundTripsTheDocument", testPutGet},
		{"Permissions_AreInTheQuery", testPermissions},
		{"FullText_ToleratesTyposAndHighlights", testFullText},
		{"Highlights_EscapeMarkupOfTheDocument", testHighlightsEscape},
		{"Filters_Narrow", testFilters},
		{"Facets_CountOnlyWhatTheViewerMaySee", testFacets},
		{"Sort_AndCursorPagesCoverEverythingOnce", testPaging},
		{"Tombstones_AreNeverReturned", testTombstones},
		{"WithMember_FindsMemberships", testWithMember},
		{"Files_FoundByProjectWithTheProjectsAccess", testFiles},
		{"Rebuild_BuildsBesideTheCurrentIndexAndSwaps", testRebuild},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := open(t)
			t.Cleanup(func() { _ = x.Close() })
			tc.fn(t, x)
		})
	}
}

func testPutGet(t *testing.T, x index.Index) {
	d := project("p1", "Alpha", index.Private, alice, day, "Go", "go", "Ops")
	d.MemberVersions = map[string]int64{alice: 1, bob: 3}
	seed(t, x, d)
	got, ok, err := x.Get(context.Background(), "p1")
	if err != nil || !ok {
		t.Fatalf("get: ok=%v err=%v", ok, err)
	}
	if !slices.Equal(got.Tags, []string{"go", "ops"}) || got.MemberVersions[bob] != 3 || !got.CreatedAt.Equal(day) || got.Title != "Alpha" {
		t.Errorf("round trip: got %+v", got)
	}
	if _, ok, err := x.Get(context.Background(), "missing"); ok || err != nil {
		t.Errorf("missing document: ok=%v err=%v", ok, err)
	}
	n, err := x.Count(context.Background())
	if err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1", n, err)
	}
}

func testPermissions(t *testing.T, x index.Index) {
	seed(t, x, corpus()...)
	expectIDs(t, "anonymous", search(t, x, index.Query{Size: 50}), "p-public-1", "p-public-2")
	expectIDs(t, "carol, signed in, member of nothing", search(t, x, index.Query{Viewer: index.Viewer{UserID: carol}, Size: 50}),
		"p-public-1", "p-public-2", "p-internal", alice, bob)
	expectIDs(t, "alice", search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, Size: 50}),
		"p-public-1", "p-public-2", "p-internal", "p-private-a", alice, bob)
	expectIDs(t, "admin", search(t, x, index.Query{Viewer: index.Viewer{UserID: carol, Admin: true}, Size: 50}),
		"p-public-1", "p-public-2", "p-internal", "p-private-a", "p-private-b", alice, bob)
	// A filter cannot widen what a viewer sees.
	expectIDs(t, "anonymous asking for private", search(t, x, index.Query{Visibility: []string{index.Private}, Size: 50}))
}

func testFullText(t *testing.T, x index.Index) {
	seed(t, x, corpus()...)
	alicev := index.Viewer{UserID: alice}
	res := search(t, x, index.Query{Viewer: alicev, Text: "platfrom", Size: 50})
	expectIDs(t, "typo platfrom", res, "p-public-1", "p-internal", "p-private-a")
	for _, h := range res.Hits {
		if !slices.ContainsFunc(h.Highlights["title"], func(s string) bool { return strings.Contains(s, index.MarkOpen+"Platform"+index.MarkClose) }) {
			t.Errorf("%s: title highlight %v lacks %sPlatform%s", h.Document.ID, h.Highlights, index.MarkOpen, index.MarkClose)
		}
	}
	expectIDs(t, "two typos in a long word", search(t, x, index.Query{Viewer: alicev, Text: "handbok", Size: 50}), "p-internal")
	expectIDs(t, "a tag", search(t, x, index.Query{Viewer: alicev, Text: "payments", Size: 50}), "p-public-2")
	expectIDs(t, "a person", search(t, x, index.Query{Viewer: alicev, Text: "anders", Size: 50}), alice)
	expectIDs(t, "nothing like it", search(t, x, index.Query{Viewer: alicev, Text: "zzzzqqq", Size: 50}))
	// Title matches rank above description-only matches.
	res = search(t, x, index.Query{Viewer: alicev, Text: "roadmap", Size: 50})
	if len(res.Hits) == 0 || res.Hits[0].Document.ID != "p-public-1" {
		t.Errorf("roadmap: first hit %v, want p-public-1", ids(res))
	}
}

// Highlights go to browsers as HTML: markup in a title, a description or a display name comes back
// escaped, and only the index's own <mark> tags are markup.
func testHighlightsEscape(t *testing.T, x index.Index) {
	evil := project("p-evil", `<img src=x onerror=alert(1)> Rocket`, index.Public, alice, day)
	evil.Description = `Rocket & <script>alert("d")</script> notes`
	person := user(bob, `Bob <b onmouseover=alert(2)>Rocket</b>`, day)
	seed(t, x, evil, person)
	res := search(t, x, index.Query{Viewer: index.Viewer{UserID: carol}, Text: "rocket", Size: 50})
	expectIDs(t, "rocket", res, "p-evil", bob)
	for _, h := range res.Hits {
		if len(h.Highlights) == 0 {
			t.Errorf("%s: no highlights", h.Document.ID)
		}
		for field, frags := range h.Highlights {
			for _, f := range frags {
				bare := strings.NewReplacer(index.MarkOpen, "", index.MarkClose, "").Replace(f)
				if strings.ContainsAny(bare, "<>") || strings.Contains(bare, `"`) {
					t.Errorf("%s %s: highlight %q carries markup of the document", h.Document.ID, field, f)
				}
				if strings.Contains(bare, "&") && !strings.Contains(bare, "&lt;") && !strings.Contains(bare, "&amp;") &&
					!strings.Contains(bare, "&quot;") && !strings.Contains(bare, "&#") {
					t.Errorf("%s %s: highlight %q has an unescaped ampersand", h.Document.ID, field, f)
				}
			}
		}
	}
	// The stored document itself is unchanged: escaping is the highlight's, not the data's.
	for _, h := range res.Hits {
		if h.Document.ID == "p-evil" && h.Document.Title != evil.Title {
			t.Errorf("stored title %q, want %q", h.Document.Title, evil.Title)
		}
	}
}

func testFilters(t *testing.T, x index.Index) {
	seed(t, x, corpus()...)
	archived := project("p-archived", "Old Platform", index.Public, bob, day.Add(-24*time.Hour), "go")
	archived.Archived = true
	seed(t, x, archived)
	v := index.Viewer{UserID: alice}
	yes, no := true, false
	cases := []struct {
		name string
		q    index.Query
		want []string
	}{
		{"type user", index.Query{Types: []string{index.TypeUser}}, []string{alice, bob}},
		{"visibility public", index.Query{Visibility: []string{index.Public}}, []string{"p-public-1", "p-public-2", "p-archived"}},
		{"visibility private or internal", index.Query{Visibility: []string{index.Private, index.Internal}}, []string{"p-internal", "p-private-a", alice, bob}},
		{"tag go", index.Query{Tags: []string{"go"}}, []string{"p-public-1", "p-public-2", "p-archived"}},
		{"tags go and planning (all of them)", index.Query{Tags: []string{"Go", "planning"}}, []string{"p-public-1"}},
		{"owner bob, projects", index.Query{OwnerID: bob, Types: []string{index.TypeProject}}, []string{"p-public-2", "p-archived"}},
		{"created from day+1 to day+3 (exclusive)", index.Query{Types: []string{index.TypeProject}, CreatedFrom: day.Add(24 * time.Hour), CreatedTo: day.Add(72 * time.Hour)},
			[]string{"p-public-2", "p-internal"}},
		{"created before day", index.Query{CreatedTo: day}, []string{"p-archived"}},
		{"archived only", index.Query{Archived: &yes}, []string{"p-archived"}},
		{"not archived, text", index.Query{Archived: &no, Text: "platform"}, []string{"p-public-1", "p-internal", "p-private-a"}},
	}
	for _, tc := range cases {
		tc.q.Viewer, tc.q.Size = v, 50
		expectIDs(t, tc.name, search(t, x, tc.q), tc.want...)
	}
}

func testFacets(t *testing.T, x index.Index) {
	seed(t, x, corpus()...)
	anon := search(t, x, index.Query{Size: 1})
	if got := facet(anon, index.FacetVisibility); len(got) != 1 || got[index.Public] != 2 {
		t.Errorf("anonymous visibility facet %v, want only public: 2", got)
	}
	if got := facet(anon, index.FacetTags); got["secret"] != 0 || got["go"] != 2 || got["planning"] != 1 {
		t.Errorf("anonymous tags facet %v, want go: 2, planning: 1, no secret", got)
	}
	if anon.Total != 2 {
		t.Errorf("anonymous total %d, want 2 (a page of 1 does not change the total)", anon.Total)
	}
	a := search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, Size: 1})
	if got := facet(a, index.FacetType); got[index.TypeProject] != 4 || got[index.TypeUser] != 2 {
		t.Errorf("alice type facet %v, want project: 4, user: 2", got)
	}
	if got := facet(a, index.FacetTags); got["secret"] != 1 || got["planning"] != 2 {
		t.Errorf("alice tags facet %v, want secret: 1 (hers, not bob's), planning: 2", got)
	}
	// Facets follow the filters too.
	f := search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, Tags: []string{"go"}, Size: 10})
	if got := facet(f, index.FacetVisibility); got[index.Public] != 2 || len(got) != 1 {
		t.Errorf("go-tagged visibility facet %v, want public: 2", got)
	}
}

func testPaging(t *testing.T, x index.Index) {
	var docs []index.Document
	for i := range 23 {
		docs = append(docs, project(fmt.Sprintf("p%02d", i), fmt.Sprintf("Project %c%02d", 'A'+rune(i%5), i), index.Public, alice,
			day.Add(time.Duration(i%7)*time.Hour), "t"))
	}
	seed(t, x, docs...)
	for _, order := range []struct {
		sort string
		desc bool
		text string
	}{{index.SortCreated, false, ""}, {index.SortCreated, true, ""}, {index.SortTitle, false, ""}, {index.SortUpdated, true, ""},
		{index.SortRelevance, false, "project"}} {
		t.Run(fmt.Sprintf("%s desc=%v", order.sort, order.desc), func(t *testing.T) {
			seen := map[string]bool{}
			var prev index.Document
			var after index.Cursor
			for page := 0; ; page++ {
				if page > 10 {
					t.Fatal("more pages than documents")
				}
				res := search(t, x, index.Query{Sort: order.sort, Desc: order.desc, Text: order.text, Size: 5, After: after})
				if res.Total != 23 {
					t.Fatalf("total %d, want 23", res.Total)
				}
				for _, h := range res.Hits {
					d := h.Document
					if seen[d.ID] {
						t.Fatalf("%s on two pages", d.ID)
					}
					seen[d.ID] = true
					if prev.ID != "" && !inOrder(order.sort, order.desc, prev, d) {
						t.Errorf("%s before %s breaks the %s order", prev.ID, d.ID, order.sort)
					}
					prev = d
				}
				if len(res.Next) == 0 {
					break
				}
				// The cursor travels as a string.
				var err error
				if after, err = index.DecodeCursor(res.Next.Encode()); err != nil {
					t.Fatal(err)
				}
			}
			if len(seen) != 23 {
				t.Errorf("pages covered %d documents, want 23", len(seen))
			}
		})
	}
	if _, err := x.Search(context.Background(), index.Query{Sort: index.SortCreated, Size: 5, After: index.Cursor{"x"}}); err == nil {
		t.Error("a cursor of another sort order was accepted")
	}
}

func inOrder(sort string, desc bool, a, b index.Document) bool {
	var cmp int
	switch sort {
	case index.SortCreated:
		cmp = a.CreatedAt.Compare(b.CreatedAt)
	case index.SortUpdated:
		cmp = a.UpdatedAt.Compare(b.UpdatedAt)
	case index.SortTitle:
		cmp = strings.Compare(index.TitleKey(a.Title), index.TitleKey(b.Title))
	default:
		return true
	}
	if cmp == 0 {
		cmp = strings.Compare(a.ID, b.ID)
	}
	if desc {
		return cmp > 0
	}
	return cmp < 0
}

func testTombstones(t *testing.T, x index.Index) {
	seed(t, x, corpus()...)
	gone := project("p-public-1", "Platform Roadmap", index.Public, alice, day, "go")
	gone.Deleted, gone.Version = true, 2
	seed(t, x, gone)
	res := search(t, x, index.Query{Viewer: index.Viewer{UserID: alice, Admin: true}, Text: "roadmap", Size: 10})
	expectIDs(t, "deleted project", res)
	got, ok, err := x.Get(context.Background(), "p-public-1")
	if err != nil || !ok || !got.Deleted || got.Version != 2 {
		t.Errorf("tombstone: ok=%v deleted=%v version=%d err=%v", ok, got.Deleted, got.Version, err)
	}
	if n, _ := x.Count(context.Background()); n != len(corpus())-1 {
		t.Errorf("count %d, want %d (tombstones not counted)", n, len(corpus())-1)
	}
}

func testWithMember(t *testing.T, x index.Index) {
	docs := corpus()
	docs[1].Members = []string{bob, alice}
	seed(t, x, docs...)
	got, err := x.WithMember(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got {
		names = append(names, d.ID)
	}
	slices.Sort(names)
	if want := []string{"p-internal", "p-private-a", "p-public-1", "p-public-2"}; !slices.Equal(names, want) {
		t.Errorf("alice is a member of %v, want %v", names, want)
	}
}

func file(id, name, projectID string, access index.Document) index.Document {
	return index.Document{ID: id, Type: index.TypeFile, Title: name, ProjectID: projectID, ContentType: "application/pdf",
		Visibility: access.Visibility, Members: access.Members, OwnerID: access.OwnerID, CreatedAt: day, UpdatedAt: day,
		Version: 1, EventTime: day}
}

// Files carry their project's id and its access: they are searchable by name like anything else,
// filtered by project, visible exactly as their project is, and listed by project (live ones only)
// both in the index and in a build.
func testFiles(t *testing.T, x index.Index) {
	ctx := context.Background()
	docs := corpus()
	public, private := docs[0], docs[3]
	gone := file("f-gone", "old-budget.pdf", private.ID, private)
	gone.Deleted = true
	seed(t, x, append(docs, file("f-public", "budget-2027.pdf", public.ID, public),
		file("f-private", "budget-secret.pdf", private.ID, private), gone)...)

	got, ok, err := x.Get(ctx, "f-private")
	if err != nil || !ok || got.ProjectID != private.ID || got.ContentType != "application/pdf" || got.Type != index.TypeFile {
		t.Fatalf("get: %+v %v %v", got, ok, err)
	}
	expectIDs(t, "anonymous: the public project's file", search(t, x, index.Query{Text: "budget", Types: []string{index.TypeFile}, Size: 10}), "f-public")
	expectIDs(t, "the private project's member", search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, Text: "budget", Size: 10}), "f-public", "f-private")
	expectIDs(t, "a stranger", search(t, x, index.Query{Viewer: index.Viewer{UserID: carol}, Text: "budget", Size: 10}), "f-public")
	expectIDs(t, "one project's files", search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, ProjectID: private.ID, Size: 10}), "f-private")
	expectIDs(t, "another project's files", search(t, x, index.Query{Viewer: index.Viewer{UserID: alice}, ProjectID: public.ID, Size: 10}), "f-public")

	in, err := x.InProject(ctx, private.ID)
	if err != nil || len(in) != 1 || in[0].ID != "f-private" {
		t.Fatalf("in the private project: %+v %v", in, err)
	}
	if in, err := x.InProject(ctx, "p-internal"); err != nil || len(in) != 0 {
		t.Fatalf("in a project without files: %+v %v", in, err)
	}

	b, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Abort(ctx) }()
	if err := b.Put(ctx, file("f-new", "plan.pdf", public.ID, public), file("f-other", "other.pdf", private.ID, private)); err != nil {
		t.Fatal(err)
	}
	in, err = b.InProject(ctx, public.ID)
	if err != nil || len(in) != 1 || in[0].ID != "f-new" {
		t.Fatalf("in the build: %+v %v", in, err)
	}
}

// The primitives a rebuild is made of (the protocol itself is search's app, tested there): a new
// index filled beside the one searched, which keeps answering until the swap; tombstones listed; an
// aborted build leaves everything as it was.
func testRebuild(t *testing.T, x index.Index) {
	ctx := context.Background()
	seed(t, x, corpus()...)
	stale := project("p-stale", "Stale Thing", index.Public, alice, day)
	gone := index.Document{ID: "p-gone", Type: index.TypeProject, Deleted: true, Version: 7}
	seed(t, x, stale, gone)

	var tombs []string
	if err := x.Tombstones(ctx, func(docs []index.Document) error {
		for _, d := range docs {
			tombs = append(tombs, d.ID)
		}
		return nil
	}); err != nil || !slices.Equal(tombs, []string{"p-gone"}) {
		t.Fatalf("tombstones %v, %v", tombs, err)
	}

	b, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := corpus()
	src[1].Title, src[1].Version = "Billing Engine v2", 5
	if err := b.Put(ctx, append(src, gone)...); err != nil {
		t.Fatal(err)
	}
	have, err := b.Get(ctx, []string{"p-public-2", "p-gone", "p-stale", "nothing"})
	if err != nil || len(have) != 2 || have["p-public-2"].Version != 5 || !have["p-gone"].Deleted {
		t.Fatalf("the build holds %+v, %v", have, err)
	}
	// Until the swap, queries and reads are answered from the current index.
	if res := search(t, x, index.Query{Text: "stale", Size: 5}); len(res.Hits) != 1 {
		t.Errorf("during the build the current index answered %v", ids(res))
	}
	if got, _, _ := x.Get(ctx, "p-public-2"); got.Version != 1 {
		t.Errorf("the current index changed before the swap: %+v", got)
	}
	if err := b.Swap(ctx); err != nil {
		t.Fatal(err)
	}
	expectIDs(t, "after the swap, stale gone", search(t, x, index.Query{Text: "stale", Size: 5}))
	if got, _, _ := x.Get(ctx, "p-public-2"); got.Version != 5 || got.Title != "Billing Engine v2" {
		t.Errorf("after the swap: %+v", got)
	}
	if n, _ := x.Count(ctx); n != len(corpus()) {
		t.Errorf("count after the swap %d, want %d", n, len(corpus()))
	}
	// Writes go to the new current index.
	seed(t, x, stale)
	expectIDs(t, "a write after the swap", search(t, x, index.Query{Text: "stale", Size: 5}), "p-stale")

	// An aborted build leaves the index as it was.
	b, err = x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, project("p-never", "Never Seen", index.Public, alice, day)); err != nil {
		t.Fatal(err)
	}
	if err := b.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	expectIDs(t, "after an abort", search(t, x, index.Query{Text: "never", Size: 5}))
	if n, _ := x.Count(ctx); n != len(corpus())+1 {
		t.Errorf("count after an abort %d, want %d", n, len(corpus())+1)
	}
}
