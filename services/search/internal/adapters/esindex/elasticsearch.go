// Package esindex is the Elasticsearch 8 adapter of index.Index (go-elasticsearch/v8, the REST API and
// its query DSL). Searches go to an alias; the index behind it is created from template.json, and a
// rebuild fills a new index and moves the alias in one atomic _aliases call.
//
// Elasticsearch 8 is not obtainable on this project's machines: make test runs the conformance suite
// against OpenSearch 2.19 (deploy/local/searchnode), or against the Elasticsearch at
// ELASTICSEARCH_URL where one is named.
package esindex

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/acme/platform/services/search/internal/index"
)

//go:embed template.json
var template []byte

// Index is the Elasticsearch adapter.
type Index struct {
	es    *elasticsearch.Client
	alias string
}

var _ index.Index = (*Index)(nil)

// Open connects to url, installs the index template and makes sure alias points at an index.
func Open(ctx context.Context, url, alias string) (*Index, error) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}})
	if err != nil {
		return nil, err
	}
	x := &Index{es: es, alias: alias}
	if _, err := x.do(ctx, esapi.IndicesPutIndexTemplateRequest{Name: alias, Body: bytes.NewReader(x.templateFor(alias))}); err != nil {
		return nil, fmt.Errorf("elasticsearch: index template: %w", err)
	}
	_, err = x.do(ctx, esapi.IndicesGetAliasRequest{Name: []string{alias}})
	if errors.Is(err, errNotFound) {
		// Replicas starting together race to create the first index: it has a fixed name, so one
		// wins and the others find it (resource_already_exists_exception), and the alias never
		// points at two indexes.
		body, _ := json.Marshal(map[string]any{"aliases": map[string]any{alias: map[string]any{}}})
		_, err = x.do(ctx, esapi.IndicesCreateRequest{Index: alias + "-initial", Body: bytes.NewReader(body)})
		if err != nil && strings.Contains(err.Error(), "resource_already_exists_exception") {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: alias %s: %w", alias, err)
	}
	// The template shapes only indexes created after it; fields a newer build added (the mapping is
	// strict) are put on the current index too. Adding fields is the only change made this way.
	if _, err := x.do(ctx, esapi.IndicesPutMappingRequest{Index: []string{alias}, Body: bytes.NewReader(mappings())}); err != nil {
		return nil, fmt.Errorf("elasticsearch: mapping of %s: %w", alias, err)
	}
	return x, nil
}

// mappings is the template's mappings, as the put-mapping API takes them.
func mappings() []byte {
	var t struct {
		Template struct {
			Mappings json.RawMessage `json:"mappings"`
		} `json:"template"`
	}
	_ = json.Unmarshal(template, &t)
	return t.Template.Mappings
}

// templateFor points the template at this alias's indexes (alias-*).
func (x *Index) templateFor(alias string) []byte {
	var t map[string]any
	_ = json.Unmarshal(template, &t)
	t["index_patterns"] = []string{alias + "-*"}
	b, _ := json.Marshal(t)
	return b
}

func (x *Index) newName() string {
	return x.alias + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

var errNotFound = errors.New("not found")

type request interface {
	Do(ctx context.Context, t esapi.Transport) (*esapi.Response, error)
}

// do runs one API call and returns its body; a 404 is errNotFound, any other error status an error
// with Elasticsearch's reason.
func (x *Index) do(ctx context.Context, r request) ([]byte, error) {
	res, err := r.Do(ctx, x.es)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusNotFound {
		return body, errNotFound
	}
	if res.IsError() {
		return body, fmt.Errorf("elasticsearch: %s: %s", res.Status(), truncate(body))
	}
	return body, nil
}

func truncate(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}

// source is the stored form: the document plus its sort key.
type source struct {
	index.Document
	TitleKey string `json:"title_key"`
}

func toSource(d index.Document) source {
	d = d.Normalize()
	return source{Document: d, TitleKey: index.TitleKey(d.Title)}
}

// bulk indexes docs into target. refresh is the bulk API's refresh: "wait_for" makes them searchable
// before it returns (what an event needs), "false" leaves that to the next refresh (a rebuild's new
// index, which nothing searches until it is refreshed and swapped in).
func (x *Index) bulk(ctx context.Context, target string, docs []index.Document, refresh string) error {
	if len(docs) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, d := range docs {
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": target, "_id": d.ID}})
		if err := enc.Encode(toSource(d)); err != nil {
			return err
		}
	}
	body, err := x.do(ctx, esapi.BulkRequest{Body: &b, Refresh: refresh})
	if err != nil {
		return err
	}
	var res struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			ID    string          `json:"_id"`
			Error json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return err
	}
	if res.Errors {
		for _, item := range res.Items {
			for _, r := range item {
				if len(r.Error) > 0 {
					return fmt.Errorf("elasticsearch: bulk item %s: %s", r.ID, truncate(r.Error))
				}
			}
		}
	}
	return nil
}

// Put indexes docs in one bulk request and waits until they are searchable.
func (x *Index) Put(ctx context.Context, docs ...index.Document) error {
	return x.bulk(ctx, x.alias, docs, "wait_for")
}

func (x *Index) mget(ctx context.Context, target string, ids []string) (map[string]index.Document, error) {
	body, _ := json.Marshal(map[string]any{"ids": ids})
	out, err := x.do(ctx, esapi.MgetRequest{Index: target, Body: bytes.NewReader(body)})
	if err != nil {
		return nil, err
	}
	var res struct {
		Docs []struct {
			Found  bool   `json:"found"`
			Source source `json:"_source"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	found := map[string]index.Document{}
	for _, d := range res.Docs {
		if d.Found {
			found[d.Source.ID] = d.Source.Document
		}
	}
	return found, nil
}

// Get returns a document by id, tombstones included.
func (x *Index) Get(ctx context.Context, id string) (index.Document, bool, error) {
	found, err := x.mget(ctx, x.alias, []string{id})
	if err != nil {
		return index.Document{}, false, err
	}
	d, ok := found[id]
	return d, ok, nil
}

func term(field string, value any) map[string]any {
	return map[string]any{"term": map[string]any{field: value}}
}

// permitted is the viewer's permissions as a filter: public for everyone, internal for the signed
// in, private to members, everything for platform admins; never tombstones.
func permitted(v index.Viewer) []any {
	filters := []any{term("deleted", false)}
	if v.Admin {
		return filters
	}
	should := []any{term("visibility", index.Public)}
	if v.UserID != "" {
		should = append(should, term("visibility", index.Internal), term("members", v.UserID))
	}
	return append(filters, map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}})
}

func buildQuery(q index.Query) map[string]any {
	filter := permitted(q.Viewer)
	if len(q.Types) > 0 {
		filter = append(filter, map[string]any{"terms": map[string]any{"type": q.Types}})
	}
	if len(q.Visibility) > 0 {
		filter = append(filter, map[string]any{"terms": map[string]any{"visibility": q.Visibility}})
	}
	for _, t := range q.Tags {
		filter = append(filter, term("tags", index.TitleKey(t)))
	}
	if q.OwnerID != "" {
		filter = append(filter, term("owner_id", q.OwnerID))
	}
	if q.ProjectID != "" {
		filter = append(filter, term("project_id", q.ProjectID))
	}
	if !q.CreatedFrom.IsZero() || !q.CreatedTo.IsZero() {
		r := map[string]any{}
		if !q.CreatedFrom.IsZero() {
			r["gte"] = q.CreatedFrom.UTC().Format(time.RFC3339Nano)
		}
		if !q.CreatedTo.IsZero() {
			r["lt"] = q.CreatedTo.UTC().Format(time.RFC3339Nano)
		}
		filter = append(filter, map[string]any{"range": map[string]any{"created_at": r}})
	}
	if q.Archived != nil {
		filter = append(filter, term("archived", *q.Archived))
	}
	b := map[string]any{"filter": filter}
	if q.Text != "" {
		key := index.TitleKey(q.Text)
		b["must"] = map[string]any{"bool": map[string]any{"minimum_should_match": 1, "should": []any{
			map[string]any{"multi_match": map[string]any{"query": q.Text, "fields": []string{"title^3", "description"}, "fuzziness": "AUTO"}},
			map[string]any{"term": map[string]any{"tags": map[string]any{"value": key, "boost": 2}}},
			map[string]any{"term": map[string]any{"slug": map[string]any{"value": key, "boost": 3}}},
		}}}
	}
	return map[string]any{"bool": b}
}

func sortOrder(q index.Query) []any {
	dir := "asc"
	if q.Desc {
		dir = "desc"
	}
	by := func(field string) []any {
		return []any{map[string]any{field: dir}, map[string]any{"id": dir}}
	}
	switch q.Sort {
	case index.SortCreated:
		return by("created_at")
	case index.SortUpdated:
		return by("updated_at")
	case index.SortTitle:
		return by("title_key")
	default:
		return []any{map[string]any{"_score": "desc"}, map[string]any{"id": "asc"}}
	}
}

// Search runs q; permissions are filters of the query itself, so hits.total and the aggregations
// count only what the viewer may see.
func (x *Index) Search(ctx context.Context, q index.Query) (index.Result, error) {
	size := q.Size
	if size <= 0 {
		size = 20
	}
	sortBy := sortOrder(q)
	body := map[string]any{
		"query": buildQuery(q), "size": size + 1, "sort": sortBy, "track_total_hits": true,
		// Highlights are HTML for browsers: the html encoder escapes the document's own text, so only
		// the <mark> tags are markup.
		"highlight": map[string]any{"encoder": "html", "pre_tags": []string{index.MarkOpen}, "post_tags": []string{index.MarkClose},
			"fields": map[string]any{"title": map[string]any{"number_of_fragments": 0}, "description": map[string]any{}}},
		"aggs": map[string]any{
			index.FacetType:       map[string]any{"terms": map[string]any{"field": "type", "size": 10}},
			index.FacetTags:       map[string]any{"terms": map[string]any{"field": "tags", "size": 20}},
			index.FacetVisibility: map[string]any{"terms": map[string]any{"field": "visibility", "size": 10}},
		},
	}
	if len(q.After) > 0 {
		if len(q.After) != len(sortBy) {
			return index.Result{}, index.ErrBadCursor
		}
		after := make([]json.RawMessage, len(q.After))
		for i, v := range q.After {
			if !json.Valid([]byte(v)) {
				return index.Result{}, index.ErrBadCursor
			}
			after[i] = json.RawMessage(v)
		}
		body["search_after"] = after
	}
	b, _ := json.Marshal(body)
	out, err := x.do(ctx, esapi.SearchRequest{Index: []string{x.alias}, Body: bytes.NewReader(b)})
	if err != nil {
		if len(q.After) > 0 && strings.Contains(err.Error(), "400") {
			return index.Result{}, fmt.Errorf("%w: %v", index.ErrBadCursor, err)
		}
		return index.Result{}, err
	}
	var res struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []struct {
				Score     float64             `json:"_score"`
				Source    source              `json:"_source"`
				Highlight map[string][]string `json:"highlight"`
				Sort      []json.RawMessage   `json:"sort"`
			} `json:"hits"`
		} `json:"hits"`
		Aggregations map[string]struct {
			Buckets []struct {
				Key      any `json:"key"`
				DocCount int `json:"doc_count"`
			} `json:"buckets"`
		} `json:"aggregations"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return index.Result{}, err
	}
	result := index.Result{Total: res.Hits.Total.Value, Facets: map[string][]index.FacetCount{}}
	for i, h := range res.Hits.Hits {
		if i == size {
			for _, v := range res.Hits.Hits[size-1].Sort {
				result.Next = append(result.Next, string(v))
			}
			break
		}
		hl := h.Highlight
		if hl == nil {
			hl = map[string][]string{}
		}
		result.Hits = append(result.Hits, index.Hit{Document: h.Source.Document, Score: h.Score, Highlights: hl})
	}
	for name, agg := range res.Aggregations {
		counts := []index.FacetCount{}
		for _, bk := range agg.Buckets {
			counts = append(counts, index.FacetCount{Value: fmt.Sprint(bk.Key), Count: bk.DocCount})
		}
		result.Facets[name] = counts
	}
	return result, nil
}

// each calls fn with every document of target that the filters match, in id order, 500 at a time.
func (x *Index) each(ctx context.Context, target string, filters []any, fn func([]index.Document) error) error {
	var after []json.RawMessage
	for {
		body := map[string]any{"size": 500, "sort": []any{map[string]any{"id": "asc"}},
			"query": map[string]any{"bool": map[string]any{"filter": filters}}}
		if after != nil {
			body["search_after"] = after
		}
		b, _ := json.Marshal(body)
		raw, err := x.do(ctx, esapi.SearchRequest{Index: []string{target}, Body: bytes.NewReader(b)})
		if err != nil {
			return err
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source source            `json:"_source"`
					Sort   []json.RawMessage `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		docs := make([]index.Document, 0, len(res.Hits.Hits))
		for _, h := range res.Hits.Hits {
			docs = append(docs, h.Source.Document)
			after = h.Sort
		}
		if err := fn(docs); err != nil || len(res.Hits.Hits) < 500 {
			return err
		}
	}
}

// WithMember returns the live documents listing userID as a member.
func (x *Index) WithMember(ctx context.Context, userID string) ([]index.Document, error) {
	return x.all(ctx, x.alias, term("members", userID), term("deleted", false))
}

// all is every document of target that the filters match.
func (x *Index) all(ctx context.Context, target string, filters ...any) ([]index.Document, error) {
	var out []index.Document
	err := x.each(ctx, target, filters, func(docs []index.Document) error {
		out = append(out, docs...)
		return nil
	})
	return out, err
}

// InProject returns the live documents that belong to the project.
func (x *Index) InProject(ctx context.Context, projectID string) ([]index.Document, error) {
	return x.inProject(ctx, x.alias, projectID)
}

func (x *Index) inProject(ctx context.Context, target, projectID string) ([]index.Document, error) {
	return x.all(ctx, target, term("project_id", projectID), term("deleted", false))
}

// Count is the number of live documents.
func (x *Index) Count(ctx context.Context) (int, error) {
	b, _ := json.Marshal(map[string]any{"query": term("deleted", false)})
	raw, err := x.do(ctx, esapi.CountRequest{Index: []string{x.alias}, Body: bytes.NewReader(b)})
	if err != nil {
		return 0, err
	}
	var res struct {
		Count int `json:"count"`
	}
	return res.Count, json.Unmarshal(raw, &res)
}

// current is the index the alias points at.
func (x *Index) current(ctx context.Context) (string, error) {
	raw, err := x.do(ctx, esapi.IndicesGetAliasRequest{Name: []string{x.alias}})
	if err != nil {
		return "", err
	}
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", err
	}
	for name := range res {
		return name, nil
	}
	return "", fmt.Errorf("elasticsearch: alias %s points nowhere", x.alias)
}

// Tombstones pages through the deleted documents of the index behind the alias.
func (x *Index) Tombstones(ctx context.Context, fn func([]index.Document) error) error {
	cur, err := x.current(ctx)
	if err != nil {
		return err
	}
	return x.each(ctx, cur, []any{term("deleted", true)}, func(docs []index.Document) error {
		if len(docs) == 0 {
			return nil
		}
		return fn(docs)
	})
}

// Begin creates the index a rebuild fills, from the template, outside the alias.
func (x *Index) Begin(ctx context.Context) (index.Build, error) {
	next := x.newName()
	if _, err := x.do(ctx, esapi.IndicesCreateRequest{Index: next}); err != nil {
		return nil, err
	}
	return &build{x: x, name: next}, nil
}

type build struct {
	x    *Index
	name string
}

// Put writes without waiting for a refresh: nothing searches the new index before Swap refreshes
// it (waiting per write made a rebuild cost a second per document).
func (b *build) Put(ctx context.Context, docs ...index.Document) error {
	return b.x.bulk(ctx, b.name, docs, "false")
}

// Get reads in real time (mget), so it sees what this rebuild wrote before any refresh.
func (b *build) Get(ctx context.Context, ids []string) (map[string]index.Document, error) {
	return b.x.mget(ctx, b.name, ids)
}

// InProject searches the new index, so it first refreshes it: a rebuild's writes skip the refresh.
func (b *build) InProject(ctx context.Context, projectID string) ([]index.Document, error) {
	if _, err := b.x.do(ctx, esapi.IndicesRefreshRequest{Index: []string{b.name}}); err != nil {
		return nil, err
	}
	return b.x.inProject(ctx, b.name, projectID)
}

// Swap refreshes the new index and moves the alias to it in one atomic call, then deletes the old.
func (b *build) Swap(ctx context.Context) error {
	x := b.x
	old, err := x.current(ctx)
	if err != nil {
		return err
	}
	if _, err := x.do(ctx, esapi.IndicesRefreshRequest{Index: []string{b.name}}); err != nil {
		return err
	}
	actions, _ := json.Marshal(map[string]any{"actions": []any{
		map[string]any{"remove": map[string]any{"index": old, "alias": x.alias}},
		map[string]any{"add": map[string]any{"index": b.name, "alias": x.alias}},
	}})
	if _, err := x.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: bytes.NewReader(actions)}); err != nil {
		return err
	}
	_, err = x.do(ctx, esapi.IndicesDeleteRequest{Index: []string{old}})
	return err
}

func (b *build) Abort(ctx context.Context) error {
	_, err := b.x.do(context.WithoutCancel(ctx), esapi.IndicesDeleteRequest{Index: []string{b.name}})
	return err
}

// Drop deletes the alias's indexes and template (tests).
func (x *Index) Drop(ctx context.Context) error {
	if _, err := x.do(ctx, esapi.IndicesDeleteRequest{Index: []string{x.alias + "-*"}}); err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	_, err := x.do(ctx, esapi.IndicesDeleteIndexTemplateRequest{Name: x.alias})
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// Close releases nothing: the client holds only idle connections.
func (x *Index) Close() error { return nil }
