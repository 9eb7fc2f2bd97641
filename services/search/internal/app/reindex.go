package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/search/internal/index"
)

// Progress is reported after each page a rebuild reads.
type Progress struct {
	Source   string // users, projects or files
	Done     int64  // documents read from Source so far
	Finished bool   // the rebuilt index is live
	// Documents is the number of live documents once finished.
	Documents int64
}

// Reindex rebuilds the index from the source services (users, projects, files): a new index is filled beside the one
// searched and then swapped in. The protocol is this, whatever the backend:
//   - one rebuild at a time;
//   - every event applied meanwhile goes to both indexes (apply);
//   - a copy from a source, or an event, never replaces a newer version already in the new index;
//   - the sources list only what exists, so the old index's tombstones are carried over: a replay
//     of a deleted aggregate's old events cannot bring it back;
//   - the swap happens while no event is being written, and a failed rebuild leaves the old index.
//
// Only platform services may start one (the reindex command calls as system:search, through search's own sidecar).
func (s *Service) Reindex(ctx context.Context, c caller.Caller, report func(Progress) error) error {
	if !c.IsSystem() {
		return errs.PermissionDenied("auth.system_only", "only platform services may rebuild the index")
	}
	if !s.rebuilding.TryLock() {
		return errRebuilding
	}
	defer s.rebuilding.Unlock()
	b, err := s.Index.Begin(ctx)
	if err != nil {
		return err
	}
	s.buildMu.Lock()
	s.build = b
	s.buildMu.Unlock()
	err = s.fill(ctx, b, report)
	if err == nil {
		err = ctx.Err()
	}
	s.buildMu.Lock()
	if err == nil {
		err = b.Swap(ctx)
	}
	s.build = nil
	s.buildMu.Unlock()
	if err != nil {
		_ = b.Abort(ctx)
		return err
	}
	n, err := s.Index.Count(ctx)
	if err != nil {
		return err
	}
	return report(Progress{Finished: true, Documents: int64(n)})
}

// fill copies the sources and then the current index's tombstones into b. Each document is copied
// under its aggregate's lock, so an event cannot interleave between the version check and the write.
func (s *Service) fill(ctx context.Context, b index.Build, report func(Progress) error) error {
	copyDocs := func(docs []index.Document) error {
		for _, d := range docs {
			unlock := s.lock(d.ID)
			err := putNewer(ctx, b, d)
			unlock()
			if err != nil {
				return err
			}
		}
		return nil
	}
	// A file takes its access from the new index's copy of its project, which the projects' scan
	// wrote before, under the project's lock, as the file events do.
	copyFiles := func(docs []index.Document) error {
		for _, d := range docs {
			if err := s.copyFile(ctx, b, d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, src := range []struct {
		name string
		scan func(context.Context, func([]index.Document) error) error
		copy func([]index.Document) error
	}{{"users", s.Sources.Users, copyDocs}, {"projects", s.Sources.Projects, copyDocs}, {"files", s.Sources.Files, copyFiles}} {
		var done int64
		if err := src.scan(ctx, func(docs []index.Document) error {
			if err := src.copy(docs); err != nil {
				return err
			}
			done += int64(len(docs))
			return report(Progress{Source: src.name, Done: done})
		}); err != nil {
			return err
		}
	}
	return s.Index.Tombstones(ctx, copyDocs)
}

// copyFile writes a file from the source into b with its project's access there, unless b holds
// the file already (an event applied during the rebuild, which did the same).
func (s *Service) copyFile(ctx context.Context, b index.Build, d index.Document) error {
	defer s.lock(d.ProjectID)()
	d.Version = fileStored // the sources list stored files only
	have, err := b.Get(ctx, []string{d.ID, d.ProjectID})
	if err != nil {
		return err
	}
	if h, ok := have[d.ID]; ok && h.Version >= d.Version {
		return nil
	}
	p, ok := have[d.ProjectID]
	shareAccess(&d, p, ok)
	return b.Put(ctx, d)
}

// putNewer writes d into the build unless the build holds a version at least as new.
func putNewer(ctx context.Context, b index.Build, d index.Document) error {
	have, err := b.Get(ctx, []string{d.ID})
	if err != nil {
		return err
	}
	if h, ok := have[d.ID]; ok && h.Version >= d.Version {
		return nil
	}
	return b.Put(ctx, d)
}

var errRebuilding = errs.Conflict("search.reindex_running", "a reindex is already running")

// RebuildWhenReady rebuilds the index in the background, as search itself, retrying every interval
// until a rebuild succeeds (at start the sources may still be coming up), then waits for ctx. main
// runs it when the index on disk was made with an older mapping.
func (s *Service) RebuildWhenReady(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	for {
		err := s.Reindex(ctx, caller.Caller{UserID: caller.SystemPrefix + "search"}, func(Progress) error { return nil })
		if err == nil {
			log.InfoContext(ctx, "search index rebuilt with the current mapping")
			<-ctx.Done()
			return nil
		}
		log.WarnContext(ctx, "rebuilding the outdated search index failed; retrying", "error", err, "in", interval)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
