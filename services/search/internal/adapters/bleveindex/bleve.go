// Package bleveindex is the embedded search adapter (blevesearch/bleve): the default for make run and
// the tests, where no Elasticsearch server exists. The index lives in a directory (or in memory); a
// rebuild fills a sibling directory and swaps it in, recorded in the CURRENT file.
package bleveindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/acme/platform/services/search/internal/index"
)

// Index is the bleve adapter of index.Index.
type Index struct {
	dir string // "" keeps everything in memory
	// outdated: the index on disk was made by a build with an older mapping (see Outdated).
	outdated bool

	mu      sync.RWMutex
	live    bleve.Index
	liveDir string
}

var _ index.Index = (*Index)(nil)

// Open opens (or creates) the index kept under dir; dir "" keeps it in memory.
func Open(dir string) (*Index, error) {
	x := &Index{dir: dir}
	if dir == "" {
		idx, err := newIndex("")
		if err != nil {
			return nil, err
		}
		x.live = idx
		return x, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := "index-0"
	if b, err := os.ReadFile(filepath.Join(dir, "CURRENT")); err == nil {
		name = string(b)
	}
	idx, path, err := openOrCreate(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	x.live, x.liveDir = idx, path
	v, err := idx.GetInternal(mappingKey)
	if err != nil {
		return nil, err
	}
	x.outdated = string(v) != mappingVersion
	return x, os.WriteFile(filepath.Join(dir, "CURRENT"), []byte(filepath.Base(path)), 0o644)
}

// mappingVersion names newMapping's shape; an index records the version it was made with. Version 2
// added files (project_id).
const mappingVersion = "2"

var mappingKey = []byte("acme_mapping_version")

// Outdated reports that the index on disk was made with an older mapping than this build's: fields
// added since are not indexed in it, and it needs a rebuild (which makes the new index with the
// current mapping). Queries keep being answered from it meanwhile.
func (x *Index) Outdated() bool { return x.outdated }

func newIndex(path string) (bleve.Index, error) {
	var idx bleve.Index
	var err error
	if path == "" {
		idx, err = bleve.NewMemOnly(newMapping())
	} else {
		idx, err = bleve.New(path, newMapping())
	}
	if err != nil {
		return nil, err
	}
	if err := idx.SetInternal(mappingKey, []byte(mappingVersion)); err != nil {
		_ = idx.Close()
		return nil, err
	}
	return idx, nil
}

func openOrCreate(path string) (bleve.Index, string, error) {
	idx, err := bleve.Open(path)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		idx, err = newIndex(path)
	}
	return idx, path, err
}

// newMapping declares every field; nothing is mapped dynamically.
func newMapping() mapping.IndexMapping {
	keywordField := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.IncludeInAll = false
		return f
	}
	textField := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = standard.Name
		f.Store = true
		f.IncludeTermVectors = true // highlighting
		f.IncludeInAll = false
		return f
	}
	doc := bleve.NewDocumentStaticMapping()
	for _, name := range []string{"type", "visibility", "owner_id", "members", "tags", "slug", "title_key", "project_id"} {
		doc.AddFieldMappingsAt(name, keywordField())
	}
	doc.AddFieldMappingsAt("title", textField())
	doc.AddFieldMappingsAt("description", textField())
	for _, name := range []string{"archived", "deleted"} {
		f := bleve.NewBooleanFieldMapping()
		f.IncludeInAll = false
		doc.AddFieldMappingsAt(name, f)
	}
	for _, name := range []string{"created_at", "updated_at"} {
		f := bleve.NewDateTimeFieldMapping()
		f.IncludeInAll = false
		doc.AddFieldMappingsAt(name, f)
	}
	source := bleve.NewTextFieldMapping()
	source.Index = false
	source.Store = true
	source.IncludeInAll = false
	doc.AddFieldMappingsAt("source", source)
	m := bleve.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = standard.Name
	return m
}

// fields is what bleve indexes for d; "source" keeps the whole document for Get and hits.
func fields(d index.Document) (map[string]any, error) {
	src, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"type": d.Type, "visibility": d.Visibility, "owner_id": d.OwnerID, "members": d.Members, "tags": d.Tags,
		"slug": d.Slug, "title_key": index.TitleKey(d.Title), "title": d.Title, "description": d.Description,
		"archived": d.Archived, "deleted": d.Deleted, "created_at": d.CreatedAt, "updated_at": d.UpdatedAt,
		"project_id": d.ProjectID, "source": string(src),
	}, nil
}

func put(idx bleve.Index, docs []index.Document) error {
	b := idx.NewBatch()
	for _, d := range docs {
		f, err := fields(d.Normalize())
		if err != nil {
			return err
		}
		if err := b.Index(d.ID, f); err != nil {
			return err
		}
	}
	return idx.Batch(b)
}

// Put stores docs in one batch.
func (x *Index) Put(_ context.Context, docs ...index.Document) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return put(x.live, docs)
}

func get(idx bleve.Index, id string) (index.Document, bool, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery([]string{id}), 1, 0, false)
	req.Fields = []string{"source"}
	res, err := idx.Search(req)
	if err != nil || len(res.Hits) == 0 {
		return index.Document{}, false, err
	}
	d, err := decode(res.Hits[0])
	return d, err == nil, err
}

func decode(h *search.DocumentMatch) (index.Document, error) {
	src, _ := h.Fields["source"].(string)
	var d index.Document
	if err := json.Unmarshal([]byte(src), &d); err != nil {
		return d, fmt.Errorf("bleve: document %s: %w", h.ID, err)
	}
	return d, nil
}

// Get returns a document by id, tombstones included.
func (x *Index) Get(_ context.Context, id string) (index.Document, bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return get(x.live, id)
}

func term(field, value string) query.Query {
	q := bleve.NewTermQuery(value)
	q.SetField(field)
	return q
}

func boolean(field string, v bool) query.Query {
	q := bleve.NewBoolFieldQuery(v)
	q.SetField(field)
	return q
}

func anyOf(field string, values []string) query.Query {
	qs := make([]query.Query, 0, len(values))
	for _, v := range values {
		qs = append(qs, term(field, v))
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// permitted is what the viewer may see, as a query: public for everyone, internal for the signed
// in, private to members; platform admins see everything. Tombstones never.
func permitted(v index.Viewer) query.Query {
	live := boolean("deleted", false)
	if v.Admin {
		return live
	}
	allowed := []query.Query{term("visibility", index.Public)}
	if v.UserID != "" {
		allowed = append(allowed, term("visibility", index.Internal), term("members", v.UserID))
	}
	return bleve.NewConjunctionQuery(live, bleve.NewDisjunctionQuery(allowed...))
}

func fullText(text string) query.Query {
	match := func(field string, boost float64) query.Query {
		q := bleve.NewMatchQuery(text)
		q.SetField(field)
		q.SetAutoFuzziness(true)
		q.SetBoost(boost)
		return q
	}
	tag := bleve.NewTermQuery(index.TitleKey(text))
	tag.SetField("tags")
	tag.SetBoost(2)
	slug := bleve.NewTermQuery(index.TitleKey(text))
	slug.SetField("slug")
	slug.SetBoost(3)
	return bleve.NewDisjunctionQuery(match("title", 3), match("description", 1), tag, slug)
}

func buildQuery(q index.Query) query.Query {
	must := []query.Query{permitted(q.Viewer)}
	if q.Text != "" {
		must = append(must, fullText(q.Text))
	}
	if len(q.Types) > 0 {
		must = append(must, anyOf("type", q.Types))
	}
	if len(q.Visibility) > 0 {
		must = append(must, anyOf("visibility", q.Visibility))
	}
	for _, t := range q.Tags {
		must = append(must, term("tags", index.TitleKey(t)))
	}
	if q.OwnerID != "" {
		must = append(must, term("owner_id", q.OwnerID))
	}
	if q.ProjectID != "" {
		must = append(must, term("project_id", q.ProjectID))
	}
	if !q.CreatedFrom.IsZero() || !q.CreatedTo.IsZero() {
		yes, no := true, false
		r := bleve.NewDateRangeInclusiveQuery(q.CreatedFrom, q.CreatedTo, &yes, &no)
		r.SetField("created_at")
		must = append(must, r)
	}
	if q.Archived != nil {
		must = append(must, boolean("archived", *q.Archived))
	}
	return bleve.NewConjunctionQuery(must...)
}

func sortOrder(q index.Query) []string {
	dir := ""
	if q.Desc {
		dir = "-"
	}
	switch q.Sort {
	case index.SortCreated:
		return []string{dir + "created_at", dir + "_id"}
	case index.SortUpdated:
		return []string{dir + "updated_at", dir + "_id"}
	case index.SortTitle:
		return []string{dir + "title_key", dir + "_id"}
	default:
		return []string{"-_score", "_id"}
	}
}

// Search runs q; permissions are part of the query, so totals and facets count only what the
// viewer may see.
func (x *Index) Search(_ context.Context, q index.Query) (index.Result, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	size := q.Size
	if size <= 0 {
		size = 20
	}
	req := bleve.NewSearchRequestOptions(buildQuery(q), size+1, 0, false)
	req.SortBy(sortOrder(q))
	if len(q.After) > 0 {
		if len(q.After) != len(req.Sort) {
			return index.Result{}, index.ErrBadCursor
		}
		req.SearchAfter = q.After
	}
	req.Fields = []string{"source"}
	req.Highlight = bleve.NewHighlightWithStyle("html")
	req.Highlight.Fields = []string{"title", "description"}
	req.AddFacet(index.FacetType, bleve.NewFacetRequest("type", 10))
	req.AddFacet(index.FacetTags, bleve.NewFacetRequest("tags", 20))
	req.AddFacet(index.FacetVisibility, bleve.NewFacetRequest("visibility", 10))
	res, err := x.live.Search(req)
	if err != nil {
		if len(q.After) > 0 {
			return index.Result{}, fmt.Errorf("%w: %v", index.ErrBadCursor, err)
		}
		return index.Result{}, err
	}
	out := index.Result{Total: int(res.Total), Facets: map[string][]index.FacetCount{}}
	for i, h := range res.Hits {
		if i == size {
			last := res.Hits[size-1]
			out.Next = cursorOf(last)
			break
		}
		d, err := decode(h)
		if err != nil {
			return index.Result{}, err
		}
		hit := index.Hit{Document: d, Score: h.Score, Highlights: map[string][]string{}}
		for field, frags := range h.Fragments {
			hit.Highlights[field] = frags
		}
		out.Hits = append(out.Hits, hit)
	}
	for name, f := range res.Facets {
		counts := []index.FacetCount{}
		if f.Terms != nil {
			for _, t := range f.Terms.Terms() {
				counts = append(counts, index.FacetCount{Value: t.Term, Count: t.Count})
			}
		}
		out.Facets[name] = counts
	}
	return out, nil
}

// cursorOf is the hit's sort values as SearchAfter takes them: decoded, and the score itself where
// bleve reports the placeholder "_score".
func cursorOf(h *search.DocumentMatch) index.Cursor {
	c := append(index.Cursor{}, h.Sort...)
	if len(h.DecodedSort) == len(h.Sort) {
		c = append(index.Cursor{}, h.DecodedSort...)
	}
	for i, v := range c {
		if v == "_score" {
			c[i] = strconv.FormatFloat(h.Score, 'g', -1, 64)
		}
	}
	return c
}

// each calls fn with every document of idx that q matches, in id order, 500 at a time.
func each(idx bleve.Index, q query.Query, fn func([]index.Document) error) error {
	var after []string
	for {
		req := bleve.NewSearchRequestOptions(q, 500, 0, false)
		req.SortBy([]string{"_id"})
		req.SearchAfter = after
		req.Fields = []string{"source"}
		res, err := idx.Search(req)
		if err != nil {
			return err
		}
		docs := make([]index.Document, 0, len(res.Hits))
		for _, h := range res.Hits {
			d, err := decode(h)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		if err := fn(docs); err != nil || len(res.Hits) < 500 {
			return err
		}
		after = cursorOf(res.Hits[len(res.Hits)-1])
	}
}

// WithMember returns the live documents listing userID as a member.
func (x *Index) WithMember(_ context.Context, userID string) ([]index.Document, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return all(x.live, bleve.NewConjunctionQuery(term("members", userID), boolean("deleted", false)))
}

// all is every document of idx that q matches.
func all(idx bleve.Index, q query.Query) ([]index.Document, error) {
	var out []index.Document
	err := each(idx, q, func(docs []index.Document) error {
		out = append(out, docs...)
		return nil
	})
	return out, err
}

// InProject returns the live documents that belong to the project.
func (x *Index) InProject(_ context.Context, projectID string) ([]index.Document, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return inProject(x.live, projectID)
}

func inProject(idx bleve.Index, projectID string) ([]index.Document, error) {
	return all(idx, bleve.NewConjunctionQuery(term("project_id", projectID), boolean("deleted", false)))
}

// Count is the number of live documents.
func (x *Index) Count(_ context.Context) (int, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	res, err := x.live.Search(bleve.NewSearchRequestOptions(boolean("deleted", false), 0, 0, false))
	if err != nil {
		return 0, err
	}
	return int(res.Total), nil
}

// Tombstones pages through the deleted documents.
func (x *Index) Tombstones(_ context.Context, fn func([]index.Document) error) error {
	x.mu.RLock()
	live := x.live
	x.mu.RUnlock()
	return each(live, boolean("deleted", true), fn)
}

// Begin creates the index a rebuild fills (a new directory beside the current one).
func (x *Index) Begin(context.Context) (index.Build, error) {
	next, dir, err := x.create()
	if err != nil {
		return nil, err
	}
	return &build{x: x, idx: next, dir: dir}, nil
}

type build struct {
	x   *Index
	idx bleve.Index
	dir string
}

func (b *build) Put(_ context.Context, docs ...index.Document) error { return put(b.idx, docs) }

func (b *build) Get(_ context.Context, ids []string) (map[string]index.Document, error) {
	out := map[string]index.Document{}
	for _, id := range ids {
		d, ok, err := get(b.idx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = d
		}
	}
	return out, nil
}

func (b *build) InProject(_ context.Context, projectID string) ([]index.Document, error) {
	return inProject(b.idx, projectID)
}

// Swap makes the new index the live one, records it as current on disk, and removes the old one.
func (b *build) Swap(context.Context) error {
	x := b.x
	x.mu.Lock()
	x.outdated = false
	old, oldDir := x.live, x.liveDir
	x.live, x.liveDir = b.idx, b.dir
	var err error
	if x.dir != "" {
		err = os.WriteFile(filepath.Join(x.dir, "CURRENT"), []byte(filepath.Base(b.dir)), 0o644)
	}
	x.mu.Unlock()
	_ = old.Close()
	_ = removeDir(oldDir)
	return err
}

func (b *build) Abort(context.Context) error {
	_ = b.idx.Close()
	return removeDir(b.dir)
}

func (x *Index) create() (bleve.Index, string, error) {
	if x.dir == "" {
		idx, err := newIndex("")
		return idx, "", err
	}
	path := filepath.Join(x.dir, "index-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	idx, err := newIndex(path)
	return idx, path, err
}

func removeDir(dir string) error {
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}

// Close closes the index.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.live.Close()
}
