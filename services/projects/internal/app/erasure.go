package app

import (
	"context"
	"strings"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Membership is one project a user belongs to.
type Membership struct {
	ProjectID   string
	ProjectName string
	Member      project.Member
}

// system is the actor of changes the service makes on its own (on user.erased).
var system = caller.Caller{UserID: "system:projects"}

// ExportMemberships returns the memberships of userID for a data export: the caller's own, or
// anyone's for a platform admin.
func (s *Service) ExportMemberships(ctx context.Context, c caller.Caller, userID string) ([]Membership, error) {
	if userID != c.UserID && !c.IsAdmin() {
		return nil, errs.PermissionDenied("project.export_forbidden", "you may export only your own data")
	}
	return s.Store.MembershipsOf(ctx, userID)
}

// EraseMember removes an erased user from every project. A project the user owned alone passes to
// its highest-ranking, longest-standing member; a project left with no member is deleted. Running it
// twice changes nothing the second time, so a redelivered user.erased is harmless.
func (s *Service) EraseMember(ctx context.Context, userID string) error {
	ms, err := s.Store.MembershipsOf(ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.eraseFrom(ctx, m.ProjectID, userID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) eraseFrom(ctx context.Context, projectID, userID string) error {
	return s.Store.InTx(ctx, func(tx Tx) error {
		p, err := tx.Lock(ctx, projectID)
		if errs.As(err).Kind == errs.KindNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		members, err := tx.Members(ctx, projectID)
		if err != nil {
			return err
		}
		e, changed := p.Erase(userID, members, s.now())
		if !changed {
			return nil
		}
		if e.Deleted {
			if err := tx.Delete(ctx, p.ID); err != nil {
				return err
			}
			return tx.Publish(ctx, published(system, e.Events)...)
		}
		if e.Heir != nil {
			if err := tx.PutMember(ctx, p.ID, project.Member{UserID: e.Heir.UserID, Role: project.Owner}); err != nil {
				return err
			}
		}
		if e.OwnerChanged {
			// The heir may already own a project with this slug; keep both reachable. (Checked first:
			// a failed UPDATE would abort the whole transaction.)
			taken, err := tx.SlugTaken(ctx, p.OwnerID, p.Slug, p.ID)
			if err != nil {
				return err
			}
			if taken {
				p.Slug = strings.TrimRight(p.Slug[:min(len(p.Slug), 54)], "-") + "-" + p.ID[:8]
			}
		}
		if err := tx.DeleteMember(ctx, p.ID, userID); err != nil {
			return err
		}
		if err := tx.Save(ctx, p); err != nil {
			return err
		}
		return tx.Publish(ctx, published(system, e.Events)...)
	})
}
