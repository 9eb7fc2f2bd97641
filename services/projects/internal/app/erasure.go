package app

import (
	"context"
	"strings"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
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
		var leaving *project.Member
		var others, owners []project.Member
		for i := range members {
			switch m := members[i]; {
			case m.UserID == userID:
				leaving = &members[i]
			case m.Role == project.Owner:
				owners = append(owners, m)
				others = append(others, m)
			default:
				others = append(others, m)
			}
		}
		if leaving == nil {
			return nil
		}
		now := s.now()
		if len(others) == 0 {
			p.Bump(now)
			if err := tx.Delete(ctx, p.ID); err != nil {
				return err
			}
			return tx.Publish(ctx, projectEvent("project.deleted", p, system, now, events.ProjectDeleted{ProjectID: p.ID}),
				audit("project.deleted", p.ID, system, now, "project", map[string]string{"reason": "last member erased"}))
		}
		var evs []outbox.Event
		if leaving.Role == project.Owner && len(owners) == 0 {
			heir := project.Successor(others)
			p.Bump(now)
			if err := tx.PutMember(ctx, p.ID, project.Member{UserID: heir.UserID, Role: project.Owner}); err != nil {
				return err
			}
			evs = append(evs, memberEvent("project.member_role_changed", p, system, heir.UserID, project.Owner)...)
			owners = append(owners, heir)
		}
		if p.OwnerID == userID {
			p.OwnerID = owners[0].UserID
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
		p.Bump(now)
		if err := tx.DeleteMember(ctx, p.ID, userID); err != nil {
			return err
		}
		evs = append(evs, memberEvent("project.member_removed", p, system, userID, "")...)
		if err := tx.Save(ctx, p); err != nil {
			return err
		}
		return tx.Publish(ctx, evs...)
	})
}
