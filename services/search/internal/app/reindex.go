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

// Reindex rebuilds the index from the source services. Events keep being applied meanwhile, to the
// old index and the new one; the copy from a source never replaces a newer version an event wrote.
// Only platform services may start one (the reindex command calls as system:reindex), and only one
// rebuild runs at a time.
func (s *Service) Reindex(ctx context.Context, c caller.Caller, report func(Progress) error) error {
	if !c.IsSystem() {
		return errs.PermissionDenied("auth.system_only", "only platform services may rebuild the index")
	}
	if !s.rebuilding.TryLock() {
		return errRebuilding
	}
	defer s.rebuilding.Unlock()
	err := s.Index.Rebuild(ctx, func(put func(...index.Document) error) error {
		// Each document is copied under its aggregate's lock, so an event cannot interleave between
		// the rebuild's version check and its write.
		locked := func(docs []index.Document) error {
			for _, d := range docs {
				unlock := s.lock(d.ID)
				err := put(d)
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
				if err := locked(docs); err != nil {
					return err
				}
				done += int64(len(docs))
				return report(Progress{Source: src.name, Done: done})
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	n, err := s.Index.Count(ctx)
	if err != nil {
		return err
	}
	return report(Progress{Finished: true, Documents: int64(n)})
}

var errRebuilding = errs.Conflict("search.reindex_running", "a reindex is already running")
