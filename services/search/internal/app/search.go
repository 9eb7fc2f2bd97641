package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/search/internal/index"
)

// Request is a search as the API receives it.
type Request struct {
	Text                   string
	Types, Visibility      []string
	Tags                   []string
	OwnerID                string
	ProjectID              string
	CreatedFrom, CreatedTo time.Time
	Archived               *bool
	Sort, Order            string
	PageSize               int
	PageToken              string
}

var (
	validTypes      = []string{index.TypeUser, index.TypeProject, index.TypeFile}
	validVisibility = []string{index.Private, index.Internal, index.Public}
	validSorts      = []string{index.SortRelevance, index.SortCreated, index.SortUpdated, index.SortTitle}
)

// oneOf checks that every value is allowed; the error code is the caller's, written out, so the
// contract's catalogue of codes can be checked against the source.
func oneOf(code, field string, values, allowed []string) error {
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return errs.Invalid(code, field, field+" must be one of "+strings.Join(allowed, ", "))
		}
	}
	return nil
}

// query validates r and turns it into an index query for the viewer.
func (r Request) query(v index.Viewer) (index.Query, error) {
	q := index.Query{Viewer: v, Text: strings.TrimSpace(r.Text), Types: r.Types, Visibility: r.Visibility, OwnerID: r.OwnerID,
		ProjectID: r.ProjectID, CreatedFrom: r.CreatedFrom, CreatedTo: r.CreatedTo, Archived: r.Archived, Sort: r.Sort, Size: r.PageSize}
	switch {
	case !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > 200:
		return q, errs.Invalid("search.q_invalid", "q", "q must be valid text of at most 200 characters")
	case len(r.Tags) > 10:
		return q, errs.Invalid("search.tags_invalid", "tags", "at most 10 tags")
	case len(r.OwnerID) > 64:
		return q, errs.Invalid("search.owner_id_invalid", "owner_id", "owner_id is not an id")
	case len(r.ProjectID) > 64:
		return q, errs.Invalid("search.project_id_invalid", "project_id", "project_id is not an id")
	case outOfRange(r.CreatedFrom):
		return q, errs.Invalid("search.created_range_invalid", "created_from", "created_from must be between 1900 and 2200")
	case outOfRange(r.CreatedTo):
		return q, errs.Invalid("search.created_range_invalid", "created_to", "created_to must be between 1900 and 2200")
	case !r.CreatedFrom.IsZero() && !r.CreatedTo.IsZero() && !r.CreatedFrom.Before(r.CreatedTo):
		return q, errs.Invalid("search.created_range_invalid", "created_to", "created_to must be after created_from")
	}
	for _, t := range r.Tags {
		if t == "" || utf8.RuneCountInString(t) > 50 {
			return q, errs.Invalid("search.tags_invalid", "tags", "each tag must be 1 to 50 characters")
		}
		q.Tags = append(q.Tags, t)
	}
	if err := oneOf("search.types_invalid", "types", r.Types, validTypes); err != nil {
		return q, err
	}
	if err := oneOf("search.visibility_invalid", "visibility", r.Visibility, validVisibility); err != nil {
		return q, err
	}
	if q.Sort == "" {
		q.Sort = index.SortRelevance
	}
	if err := oneOf("search.sort_invalid", "sort", []string{q.Sort}, validSorts); err != nil {
		return q, err
	}
	switch r.Order {
	case "":
		q.Desc = q.Sort == index.SortCreated || q.Sort == index.SortUpdated
	case "asc", "desc":
		q.Desc = r.Order == "desc"
	default:
		return q, errs.Invalid("search.order_invalid", "order", "order must be asc or desc")
	}
	switch {
	case q.Size == 0:
		q.Size = 20
	case q.Size < 1 || q.Size > 100:
		return q, errs.Invalid("search.page_size_invalid", "page_size", "page_size must be between 1 and 100")
	}
	if r.PageToken != "" {
		// A token belongs to one sort order: it carries the order's name before the position.
		key, pos, ok := strings.Cut(r.PageToken, ".")
		c, err := index.DecodeCursor(pos)
		if !ok || key != sortKey(q) || err != nil {
			return q, errBadToken
		}
		q.After = c
	}
	return q, nil
}

var errBadToken = errs.Invalid("search.page_token_invalid", "page_token", "page_token is not one this search issued")

func sortKey(q index.Query) string {
	if q.Desc && q.Sort != index.SortRelevance {
		return q.Sort + "-desc"
	}
	return q.Sort
}

// Page is one page of results.
type Page struct {
	index.Result
	NextPageToken string
}

// Search answers r for the caller: anonymous callers see public projects, signed-in ones internal
// projects and users too, members their private projects, platform admins everything.
func (s *Service) Search(ctx context.Context, c *caller.Caller, r Request) (Page, error) {
	var v index.Viewer
	if c != nil {
		v = index.Viewer{UserID: c.UserID, Admin: c.IsAdmin()}
	}
	q, err := r.query(v)
	if err != nil {
		return Page{}, err
	}
	res, err := s.Index.Search(ctx, q)
	if errors.Is(err, index.ErrBadCursor) {
		return Page{}, errBadToken
	}
	if err != nil {
		return Page{}, err
	}
	p := Page{Result: res}
	if len(res.Next) > 0 {
		p.NextPageToken = sortKey(q) + "." + res.Next.Encode()
	}
	return p, nil
}

// Dates a search may name: the indexes store times as nanoseconds since 1970 (1678 to 2262 fit), and
// nothing on the platform was created outside these years. Found by schemathesis: the year 598 was a 500.
var earliest, latest = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

func outOfRange(t time.Time) bool { return !t.IsZero() && (t.Before(earliest) || t.After(latest)) }
