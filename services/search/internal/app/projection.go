// Package app is the search service's use cases: keeping the index in step with the users, projects
// and files events, answering searches with the caller's permissions, and rebuilding the index from
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
	// Files lists clean files without their project's access and version (the rebuild sets them).
	Files(ctx context.Context, page func([]index.Document) error) error
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
		return s.project(ctx, p.ProjectID, e, func(d *index.Document) bool {
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
		return s.project(ctx, p.ProjectID, e, func(d *index.Document) bool {
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
	case events.FileEvent:
		switch e.Type {
		case "file.uploaded":
			return s.file(ctx, p, e, func(d *index.Document) bool {
				if d.Version >= fileStored {
					return false
				}
				*d = index.Document{ID: p.FileID, Type: index.TypeFile, Title: p.Name, ProjectID: p.ProjectID,
					ContentType: p.ContentType, OwnerID: p.UploaderID, CreatedAt: e.OccurredAt, UpdatedAt: e.OccurredAt, Version: fileStored}
				return true
			})
		case "file.deleted":
			return s.file(ctx, p, e, func(d *index.Document) bool {
				if d.Version >= fileDeleted {
					return false
				}
				*d = index.Document{ID: p.FileID, Type: index.TypeFile, ProjectID: p.ProjectID, Deleted: true, Version: fileDeleted}
				return true
			})
		}
	}
	return nil
}

// A file's document has two versions: stored, then deleted (files publishes no versions of its own,
// and a file is never stored again once deleted). A replayed upload never revives a deleted file.
const (
	fileStored  = 1
	fileDeleted = 2
)

// project applies a project event and then gives the project's files its access; both happen under
// the project's lock, which file events take too, so a file never keeps a project's old access.
func (s *Service) project(ctx context.Context, id string, e events.Envelope, change func(*index.Document) bool) error {
	defer s.lock(id)()
	if err := s.applyLocked(ctx, id, e, change); err != nil {
		return err
	}
	return s.shareWithFiles(ctx, id)
}

// shareWithFiles copies the project's visibility, members and archived flag to its files, in the
// searched index and in a rebuild's, each from its own copy of the project. Called under the
// project's lock.
func (s *Service) shareWithFiles(ctx context.Context, projectID string) error {
	if err := shareWith(ctx, searched{s.Index}, projectID); err != nil {
		return err
	}
	return s.inBuild(func(b target) error { return shareWith(ctx, b, projectID) })
}

func shareWith(ctx context.Context, t target, projectID string) error {
	have, err := t.Get(ctx, []string{projectID})
	if err != nil {
		return err
	}
	files, err := t.InProject(ctx, projectID)
	if err != nil {
		return err
	}
	p, ok := have[projectID]
	return t.Put(ctx, withAccess(files, p, ok)...)
}

// target is an index the app writes to: the searched one, or a rebuild's (index.Build).
type target interface {
	Get(ctx context.Context, ids []string) (map[string]index.Document, error)
	Put(ctx context.Context, docs ...index.Document) error
	InProject(ctx context.Context, projectID string) ([]index.Document, error)
}

// searched is the searched index as a target.
type searched struct{ index.Index }

func (x searched) Get(ctx context.Context, ids []string) (map[string]index.Document, error) {
	out := map[string]index.Document{}
	for _, id := range ids {
		d, ok, err := x.Index.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = d
		}
	}
	return out, nil
}

// inBuild runs fn on the rebuild's index while one runs, holding off its swap meanwhile.
func (s *Service) inBuild(fn func(target) error) error {
	s.buildMu.RLock()
	defer s.buildMu.RUnlock()
	if s.build == nil {
		return nil
	}
	return fn(s.build)
}

// withAccess returns the files whose access differs from the project's, with the project's.
func withAccess(files []index.Document, p index.Document, found bool) []index.Document {
	var changed []index.Document
	for _, f := range files {
		g := f
		shareAccess(&g, p, found)
		if g.Visibility != f.Visibility || g.Archived != f.Archived || g.Deleted != f.Deleted || !slices.Equal(g.Members, f.Members) {
			changed = append(changed, g)
		}
	}
	return changed
}

// shareAccess gives a file its project's access. A file of a project not (yet) indexed is visible
// to nobody but platform admins until the project's events arrive; a deleted project's files are
// deleted with it.
func shareAccess(f *index.Document, p index.Document, found bool) {
	switch {
	case !found:
		f.Visibility, f.Members, f.Archived = index.Private, nil, false
	case p.Deleted:
		f.Visibility, f.Members, f.Archived, f.Deleted = index.Private, nil, false, true
	default:
		f.Visibility, f.Members, f.Archived = p.Visibility, slices.Clone(p.Members), p.Archived
	}
	f.Members = index.Document{Members: f.Members}.Normalize().Members
}

// file applies a file event, under its project's lock, in the searched index and in a rebuild's:
// change edits the file's document in each, which then takes that index's copy of the project's access.
func (s *Service) file(ctx context.Context, p events.FileEvent, e events.Envelope, change func(*index.Document) bool) error {
	defer s.lock(p.ProjectID)()
	wrote, err := applyFile(ctx, searched{s.Index}, p, e, change)
	if err != nil {
		return err
	}
	if wrote {
		s.observe(ctx, e.OccurredAt)
	}
	return s.inBuild(func(b target) error {
		_, err := applyFile(ctx, b, p, e, change)
		return err
	})
}

// applyFile changes the file's document in t, if change says so, with t's copy of the project's
// access; it reports whether it wrote.
func applyFile(ctx context.Context, t target, p events.FileEvent, e events.Envelope, change func(*index.Document) bool) (bool, error) {
	have, err := t.Get(ctx, []string{p.FileID, p.ProjectID})
	if err != nil {
		return false, err
	}
	d := have[p.FileID]
	if !change(&d) {
		return false, nil
	}
	d.EventTime = e.OccurredAt
	if !d.Deleted {
		proj, ok := have[p.ProjectID]
		shareAccess(&d, proj, ok)
	}
	return true, t.Put(ctx, d)
}

// applyProject changes a project's fields if the event is newer than the document.
func (s *Service) applyProject(ctx context.Context, id string, e events.Envelope, change func(*index.Document)) error {
	return s.project(ctx, id, e, func(d *index.Document) bool {
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
	return s.applyLocked(ctx, id, e, change)
}

// applyLocked is apply, for a caller holding the document's lock.
func (s *Service) applyLocked(ctx context.Context, id string, e events.Envelope, change func(*index.Document) bool) error {
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

// forgetMember removes an erased user from every project that lists them, and so from the projects'
// files. The membership keeps the version it had, so an older member_added replayed later cannot
// bring the user back.
func (s *Service) forgetMember(ctx context.Context, userID string, e events.Envelope) error {
	docs, err := s.Index.WithMember(ctx, userID)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if doc.Type == index.TypeFile {
			continue // a file's members are its project's: it follows when its project is done
		}
		if err := s.project(ctx, doc.ID, e, func(d *index.Document) bool {
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
