// Package index is the search service's port: the documents it keeps, the queries it answers and the
// Index interface that the embedded (bleve) and Elasticsearch adapters implement. Both pass one
// conformance suite (indextest). Permissions are part of every Query: an adapter builds them into the
// query it runs, so totals and facet counts never include what the viewer may not see.
package index

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Document types.
const (
	TypeUser    = "user"
	TypeProject = "project"
	TypeFile    = "file"
)

// Visibilities. Users are "internal": any signed-in caller may find them.
const (
	Private  = "private"
	Internal = "internal"
	Public   = "public"
)

// Document is one searchable thing. A deleted aggregate stays as a tombstone (Deleted, its last
// version kept) so that a replayed older event cannot bring it back; no query returns tombstones.
type Document struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Slug        string    `json:"slug"`
	Tags        []string  `json:"tags"`
	Visibility  string    `json:"visibility"`
	OwnerID     string    `json:"owner_id"`
	Members     []string  `json:"members"`
	Archived    bool      `json:"archived"`
	Deleted     bool      `json:"deleted"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Version is the aggregate version the document reflects.
	Version int64 `json:"version"`
	// MemberVersions is, per user, the aggregate version of the last membership event applied to that
	// user (a transfer changes two memberships at one version). Removed members stay with their version.
	MemberVersions map[string]int64 `json:"member_versions"`
	// EventTime is when the newest applied event happened; the freshness metric measures from it.
	EventTime time.Time `json:"event_time"`
	// ProjectID is, for a file, the project it belongs to: a file is visible to whoever may see its
	// project, so it carries a copy of the project's visibility, members and archived flag, which
	// the app keeps in step with the project's events. ContentType is a file's sniffed type.
	ProjectID   string `json:"project_id,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

// Viewer is who searches. A zero Viewer is anonymous.
type Viewer struct {
	UserID string
	Admin  bool
}

// Sort orders.
const (
	SortRelevance = "relevance"
	SortCreated   = "created_at"
	SortUpdated   = "updated_at"
	SortTitle     = "title"
)

// Query is one search. Empty filters match everything; the viewer's permissions always apply.
type Query struct {
	Viewer     Viewer
	Text       string
	Types      []string
	Visibility []string
	Tags       []string
	OwnerID    string
	// ProjectID keeps only the files of one project when set.
	ProjectID string
	// CreatedFrom (inclusive) and CreatedTo (exclusive) bound created_at when set.
	CreatedFrom, CreatedTo time.Time
	// Archived filters on the archived flag when set; nil matches both.
	Archived *bool
	Sort     string
	// Desc reverses the sort (relevance is always best first).
	Desc bool
	Size int
	// After is the cursor of the previous page (Result.Next).
	After Cursor
}

// Cursor is an opaque position in a sort order: the sort values of the last hit.
type Cursor []string

// Encode makes the cursor safe to hand to clients.
func (c Cursor) Encode() string {
	if len(c) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadCursor is returned for a page token this service did not issue.
var ErrBadCursor = errors.New("index: malformed cursor")

// DecodeCursor reverses Encode.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || len(c) == 0 || len(c) > 4 {
		return nil, ErrBadCursor
	}
	return c, nil
}

// Hit is one result with its highlighted snippets by field (matched terms wrapped in <mark>).
type Hit struct {
	Document   Document
	Score      float64
	Highlights map[string][]string
}

// FacetCount is how many matching documents have one value.
type FacetCount struct {
	Value string
	Count int
}

// Facet names.
const (
	FacetType       = "type"
	FacetTags       = "tags"
	FacetVisibility = "visibility"
)

// Result is one page.
type Result struct {
	Total  int
	Hits   []Hit
	Facets map[string][]FacetCount
	// Next is the cursor of the following page; empty on the last.
	Next Cursor
}

// Index keeps documents and answers queries.
type Index interface {
	// Get returns the document with id, tombstones included.
	Get(ctx context.Context, id string) (Document, bool, error)
	// Put stores documents, replacing those with the same id, in one bulk request.
	Put(ctx context.Context, docs ...Document) error
	// Search runs q with the viewer's permissions built in.
	Search(ctx context.Context, q Query) (Result, error)
	// WithMember returns the live documents that list userID as a member.
	WithMember(ctx context.Context, userID string) ([]Document, error)
	// InProject returns the live documents (files) that belong to the project.
	InProject(ctx context.Context, projectID string) ([]Document, error)
	// Count is the number of live (not deleted) documents.
	Count(ctx context.Context) (int, error)
	// Tombstones calls fn with the deleted documents, a page at a time.
	Tombstones(ctx context.Context, fn func([]Document) error) error
	// Begin creates a fresh, empty index beside the one searched, for a rebuild to fill; queries
	// keep being answered from the current one until Swap. The protocol (what to copy, keeping
	// newer versions, the tombstones, one rebuild at a time) is the app's.
	Begin(ctx context.Context) (Build, error)
	Close() error
}

// Build is an index being filled for a rebuild.
type Build interface {
	// Put writes documents into the new index; they are searchable after Swap.
	Put(ctx context.Context, docs ...Document) error
	// Get reads from the new index the documents among ids that it holds (tombstones included).
	Get(ctx context.Context, ids []string) (map[string]Document, error)
	// InProject returns the live documents (files) of the new index that belong to the project.
	InProject(ctx context.Context, projectID string) ([]Document, error)
	// Swap makes the new index the one searched and drops the old one.
	Swap(ctx context.Context) error
	// Abort drops the new index; the current one stays as it was.
	Abort(ctx context.Context) error
}

// Mark wraps highlighted terms; both adapters use it.
const (
	MarkOpen  = "<mark>"
	MarkClose = "</mark>"
)
