package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/types/known/timestamppb"

	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
)

// SearchHit is the public view of one result.
type SearchHit struct {
	ID          string              `json:"id"`
	Type        string              `json:"type"`
	Title       string              `json:"title"`
	Description string              `json:"description,omitempty"`
	Slug        string              `json:"slug,omitempty"`
	Tags        []string            `json:"tags"`
	Visibility  string              `json:"visibility"`
	OwnerID     string              `json:"owner_id,omitempty"`
	Archived    bool                `json:"archived"`
	CreatedAt   *time.Time          `json:"created_at,omitempty"`
	UpdatedAt   *time.Time          `json:"updated_at,omitempty"`
	ProjectID   string              `json:"project_id,omitempty"`
	ContentType string              `json:"content_type,omitempty"`
	Score       float64             `json:"score"`
	Highlights  map[string][]string `json:"highlights"`
}

// FacetCount is one facet value and how many results have it.
type FacetCount struct {
	Value string `json:"value"`
	Count int32  `json:"count"`
}

// optTime is an optional timestamp as JSON: absent when the backend sent none.
func optTime(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime().UTC()
	return &t
}

// multi reads a filter given repeated (type=a&type=b) or comma-separated (type=a,b).
func multi(c *gin.Context, name string) []string {
	var out []string
	for _, v := range c.QueryArray(name) {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// search runs a full-text search as the caller, or anonymously without a token; the search
// service builds the caller's permissions into the query.
func (a *API) search(c *gin.Context, ctx context.Context) (answer, error) {
	from, err := queryTime(c, "created_from")
	if err != nil {
		return answer{}, err
	}
	to, err := queryTime(c, "created_to")
	if err != nil {
		return answer{}, err
	}
	in := &searchv1.SearchRequest{Q: c.Query("q"), Types: multi(c, "type"), Visibility: multi(c, "visibility"),
		Tags: multi(c, "tag"), OwnerId: c.Query("owner"), ProjectId: c.Query("project_id"), CreatedFrom: from, CreatedTo: to, Sort: c.Query("sort"),
		Order: c.Query("order"), PageSize: int32(queryInt(c, "page_size")), PageToken: c.Query("page_token")}
	if b, ok := queryBool(c, "archived"); ok {
		in.Archived = &b
	}
	resp, err := a.Search.Search(ctx, in)
	if err != nil {
		return answer{}, err
	}
	hits := []SearchHit{}
	for _, h := range resp.GetHits() {
		hit := SearchHit{ID: h.GetId(), Type: h.GetType(), Title: h.GetTitle(), Description: h.GetDescription(), Slug: h.GetSlug(),
			Tags: h.GetTags(), Visibility: h.GetVisibility(), OwnerID: h.GetOwnerId(), Archived: h.GetArchived(),
			CreatedAt: optTime(h.GetCreatedAt()), UpdatedAt: optTime(h.GetUpdatedAt()), Score: h.GetScore(), Highlights: map[string][]string{},
			ProjectID: h.GetProjectId(), ContentType: h.GetContentType()}
		if hit.Tags == nil {
			hit.Tags = []string{}
		}
		for field, s := range h.GetHighlights() {
			hit.Highlights[field] = s.GetFragments()
		}
		hits = append(hits, hit)
	}
	facets := map[string][]FacetCount{}
	for _, name := range []string{"type", "tags", "visibility"} {
		facets[name] = []FacetCount{}
		for _, f := range resp.GetFacets()[name].GetCounts() {
			facets[name] = append(facets[name], FacetCount{Value: f.GetValue(), Count: f.GetCount()})
		}
	}
	body := gin.H{"total": resp.GetTotal(), "results": hits, "facets": facets}
	if next := resp.GetNextPageToken(); next != "" {
		body["next_page_token"] = next
	}
	return okWith(body), nil
}
