package app

import (
	"context"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/search/internal/index"
)

// Progress is reported after each page a rebuild reads.
type Progress struct {
	Source   string // users or projects
	Done     int64  // documents read from Source so far
	Finished bool   // the rebuilt index is live
	// Documents is the number of live documents once finished.
	Documents int64
}

// Reindex rebuilds the index from the source services: a new index is filled beside the one
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
	for _, src := range []struct {
		name string
		scan func(context.Context, func([]index.Document) error) error
	}{{"users", s.Sources.Users}, {"projects", s.Sources.Projects}} {
		var done int64
		if err := src.scan(ctx, func(docs []index.Document) error {
			if err := copyDocs(docs); err != nil {
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
