// Package app is the search service's use cases: keeping the index in step with the users and
// projects events, answering searches with the caller's permissions, and rebuilding the index from
// the source services.
package app

import (
	"context"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/projection"
	"github.com/acme/platform/services/search/internal/index"
)

// Sources read the source services' current state, a page at a time (their gRPC scan APIs).
type Sources interface {
	Users(ctx context.Context, page func([]index.Document) error) error
	Projects(ctx context.Context, page func([]index.Document) error) error
}

// Service keeps the index and answers queries.
type Service struct {
	Index   index.Index
	Sources Sources
	// Freshness records, per indexed event, the seconds from the event to its being searchable.
	Freshness metric.Float64Histogram
	Now       func() time.Time

	locks      [64]sync.Mutex
	rebuilding sync.Mutex
	// build is the index a rebuild fills, while it runs: apply writes there too. buildMu keeps the
	// swap from falling between an event's two writes.
	buildMu sync.RWMutex
	build   index.Build
}

// lock serialises the changes to one document: events of one aggregate, and the rebuild's copy.
func (s *Service) lock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// Handle applies one event. Events that change nothing searchable are ignored. A replayed or older
// event is ignored by version: an aggregate's document carries the version it reflects, and each
// membership the version of the event that last changed it.
func (s *Service) Handle(ctx context.Context, e events.Envelope) error {
	switch p := e.Payload.(type) {
	case events.UserRegistered:
		return s.apply(ctx, p.UserID, e, func(d *index.Document) bool {
			if d.ID != "" && !versionOf(d).Accepts(e.AggregateVersion) {
				return false
			}
			*d = index.Document{ID: p.UserID, Type: index.TypeUser, Title: p.DisplayName, Visibility: index.Internal,
				OwnerID: p.UserID, CreatedAt: e.OccurredAt, UpdatedAt: e.OccurredAt, Version: e.AggregateVersion}
			return true
		})
	case events.UserErased:
		if err := s.apply(ctx, p.UserID, e, func(d *index.Document) bool {
			// Nothing personal stays: the tombstone keeps only the id, type and version.
			v := versionOf(d)
			v.Delete(e.AggregateVersion)
			*d = index.Document{ID: p.UserID, Type: index.TypeUser}
			setVersion(d, projection.Version{Of: v.Of, Deleted: true})
			return true
		}); err != nil {
			return err
		}
		return s.forgetMember(ctx, p.UserID, e)
	case events.ProjectCreated:
		return s.apply(ctx, p.ProjectID, e, func(d *index.Document) bool {
			if d.ID != "" && !versionOf(d).Accepts(e.AggregateVersion) {
				return false
			}
			*d = index.Document{ID: p.ProjectID, Type: index.TypeProject, Title: p.Name, Description: p.Description,
				Slug: p.Slug, Tags: p.Tags, Visibility: p.Visibility, OwnerID: p.OwnerID, Members: []string{p.OwnerID},
				CreatedAt: e.OccurredAt, UpdatedAt: e.OccurredAt, Version: e.AggregateVersion,
				MemberVersions: map[string]int64{p.OwnerID: e.AggregateVersion}}
			return true
		})
	case events.ProjectUpdated:
		return s.applyProject(ctx, p.ProjectID, e, func(d *index.Document) {
			d.Title, d.Description, d.Visibility, d.Tags = p.Name, p.Description, p.Visibility, p.Tags
		})
	case events.ProjectArchived:
		return s.applyProject(ctx, p.ProjectID, e, func(d *index.Document) { d.Archived = p.Archived })
	case events.ProjectDeleted:
		return s.applyProject(ctx, p.ProjectID, e, func(d *index.Document) {
			*d = index.Document{ID: d.ID, Type: index.TypeProject, Deleted: true, Version: d.Version}
		})
	case events.MemberChanged:
		return s.apply(ctx, p.ProjectID, e, func(d *index.Document) bool {
			v := versionOf(d)
			if !v.AcceptsPart(p.UserID, e.AggregateVersion) {
				return false
			}
			if d.ID == "" { // the project's creation was not seen (yet): keep what is known
				d.ID, d.Type, d.Title = p.ProjectID, index.TypeProject, p.ProjectName
			}
			v.AppliedPart(p.UserID, e.AggregateVersion)
			setVersion(d, v)
			d.Members = slices.DeleteFunc(d.Members, func(m string) bool { return m == p.UserID })
			if e.Type != "project.member_removed" {
				d.Members = append(d.Members, p.UserID)
			}
			if p.Role == "owner" {
				d.OwnerID = p.UserID
			}
			d.UpdatedAt = e.OccurredAt
			return true
		})
	}
	return nil
}

// applyProject changes a project's fields if the event is newer than the document.
func (s *Service) applyProject(ctx context.Context, id string, e events.Envelope, change func(*index.Document)) error {
	return s.apply(ctx, id, e, func(d *index.Document) bool {
		v := versionOf(d)
		if !v.Accepts(e.AggregateVersion) {
			return false
		}
		if d.ID == "" {
			d.ID, d.Type = id, index.TypeProject
		}
		change(d)
		v.Deleted = d.Deleted
		v.Applied(e.AggregateVersion)
		setVersion(d, v)
		d.UpdatedAt = e.OccurredAt
		return true
	})
}

// versionOf is the projection rule's view of a document: the aggregate version it reflects, its
// tombstone, and each membership's version. setVersion writes one back.
func versionOf(d *index.Document) projection.Version {
	return projection.Version{Of: d.Version, Deleted: d.Deleted, Parts: d.MemberVersions}
}

func setVersion(d *index.Document, v projection.Version) {
	d.Version, d.Deleted, d.MemberVersions = v.Of, v.Deleted, v.Parts
}

// apply reads the document (zero if there is none), lets change edit it and stores it if change
// says it changed; it records the freshness of what it stored.
func (s *Service) apply(ctx context.Context, id string, e events.Envelope, change func(*index.Document) bool) error {
	defer s.lock(id)()
	d, _, err := s.Index.Get(ctx, id)
	if err != nil {
		return err
	}
	if !change(&d) {
		return nil
	}
	d.EventTime = e.OccurredAt
	s.buildMu.RLock()
	defer s.buildMu.RUnlock()
	if err := s.Index.Put(ctx, d); err != nil {
		return err
	}
	if s.build != nil {
		if err := putNewer(ctx, s.build, d); err != nil {
			return err
		}
	}
	s.observe(ctx, e.OccurredAt)
	return nil
}

func (s *Service) observe(ctx context.Context, at time.Time) {
	if s.Freshness != nil {
		s.Freshness.Record(ctx, s.Now().Sub(at).Seconds())
	}
}

// forgetMember removes an erased user from every project that lists them. The membership keeps the
// version it had, so an older member_added replayed later cannot bring the user back.
func (s *Service) forgetMember(ctx context.Context, userID string, e events.Envelope) error {
	docs, err := s.Index.WithMember(ctx, userID)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if err := s.apply(ctx, doc.ID, e, func(d *index.Document) bool {
			if !slices.Contains(d.Members, userID) {
				return false
			}
			d.Members = slices.DeleteFunc(d.Members, func(m string) bool { return m == userID })
			v := versionOf(d)
			v.AppliedPart(userID, v.Of)
			setVersion(d, v)
			return true
		}); err != nil {
			return err
		}
	}
	return nil
}
