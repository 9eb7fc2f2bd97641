package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Members lists a project's members for a caller who may see the project.
func (s *Service) Members(ctx context.Context, c caller.Caller, id string) ([]project.Member, error) {
	if _, err := s.Get(ctx, c, id); err != nil {
		return nil, err
	}
	return s.Store.Members(ctx, id)
}

func memberEvent(typ string, p project.Project, c caller.Caller, userID string, role project.Role) []outbox.Event {
	now := p.UpdatedAt
	return []outbox.Event{
		projectEvent(typ, p, c, now, events.MemberChanged{ProjectID: p.ID, UserID: userID, Role: string(role), ProjectName: p.Name}),
		audit(typ, p.ID, c, now, "member", map[string]string{"user_id": userID, "role": string(role)}),
	}
}

func checkUserID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return errs.Invalid("member.user_id_invalid", "user_id", "user_id must be a user's id")
	}
	return nil
}

// AddMember gives a user a role in the project.
func (s *Service) AddMember(ctx context.Context, c caller.Caller, id, userID, role string) (project.Member, error) {
	if err := checkUserID(userID); err != nil {
		return project.Member{}, err
	}
	r, err := project.ParseRole(role)
	if err != nil {
		return project.Member{}, err
	}
	// Ask users before taking the lock: a remote call must not hold a row lock.
	exists, err := s.Users.Exists(ctx, userID)
	if err != nil {
		return project.Member{}, err
	}
	var m project.Member
	_, err = s.mutate(ctx, c, id, project.ManageMembers, false, func(tx Tx, p *project.Project, actor project.Role) ([]outbox.Event, error) {
		if err := project.CanAssign(actor, "", r); err != nil {
			return nil, err
		}
		if !exists {
			return nil, errs.NotFound("user.not_found", "no such user")
		}
		current, err := tx.Role(ctx, id, userID)
		if err != nil {
			return nil, err
		}
		if current != "" {
			return nil, errs.Conflict("member.exists", "the user is already a member; change their role instead")
		}
		now := s.now()
		p.Bump(now)
		m = project.Member{UserID: userID, Role: r, AddedAt: now}
		if err := tx.PutMember(ctx, id, m); err != nil {
			return nil, err
		}
		return memberEvent("project.member_added", *p, c, userID, r), nil
	})
	return m, err
}

// UpdateMember changes a member's role; the last owner cannot be demoted.
func (s *Service) UpdateMember(ctx context.Context, c caller.Caller, id, userID, role string) (project.Member, error) {
	if err := checkUserID(userID); err != nil {
		return project.Member{}, err
	}
	r, err := project.ParseRole(role)
	if err != nil {
		return project.Member{}, err
	}
	var m project.Member
	_, err = s.mutate(ctx, c, id, project.ManageMembers, false, func(tx Tx, p *project.Project, actor project.Role) ([]outbox.Event, error) {
		current, err := tx.Role(ctx, id, userID)
		if err != nil {
			return nil, err
		}
		if current == "" {
			return nil, errs.NotFound("member.not_found", "the user is not a member of this project")
		}
		if err := project.CanAssign(actor, current, r); err != nil {
			return nil, err
		}
		m = project.Member{UserID: userID, Role: r}
		if current == r {
			return nil, nil
		}
		if err := keepsAnOwner(ctx, tx, id, userID, current); err != nil {
			return nil, err
		}
		now := s.now()
		p.Bump(now)
		if err := tx.PutMember(ctx, id, m); err != nil {
			return nil, err
		}
		return memberEvent("project.member_role_changed", *p, c, userID, r), nil
	})
	return m, err
}

// keepsAnOwner refuses to let an owner (current role) stop being one when no other owner remains.
func keepsAnOwner(ctx context.Context, tx Tx, projectID, userID string, current project.Role) error {
	if current != project.Owner {
		return nil
	}
	owners, err := tx.Owners(ctx, projectID)
	if err != nil {
		return err
	}
	return project.KeepsAnOwner(owners, userID)
}

// RemoveMember takes a member out of the project. Admins remove others; anyone may leave; the last
// owner may not.
func (s *Service) RemoveMember(ctx context.Context, c caller.Caller, id, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	action := project.ManageMembers
	if userID == c.UserID {
		action = project.Read // leaving needs no management right
	}
	_, err := s.mutate(ctx, c, id, action, false, func(tx Tx, p *project.Project, actor project.Role) ([]outbox.Event, error) {
		current, err := tx.Role(ctx, id, userID)
		if err != nil {
			return nil, err
		}
		if current == "" {
			return nil, errs.NotFound("member.not_found", "the user is not a member of this project")
		}
		if userID != c.UserID {
			if err := project.CanAssign(actor, current, ""); err != nil {
				return nil, err
			}
		}
		if err := keepsAnOwner(ctx, tx, id, userID, current); err != nil {
			return nil, err
		}
		now := s.now()
		p.Bump(now)
		if err := tx.DeleteMember(ctx, id, userID); err != nil {
			return nil, err
		}
		return memberEvent("project.member_removed", *p, c, userID, ""), nil
	})
	return err
}

// TransferOwnership makes a member the owner and the caller an admin.
func (s *Service) TransferOwnership(ctx context.Context, c caller.Caller, id, newOwner string) (WithRole, error) {
	if err := checkUserID(newOwner); err != nil {
		return WithRole{}, err
	}
	return s.mutate(ctx, c, id, project.Transfer, false, func(tx Tx, p *project.Project, _ project.Role) ([]outbox.Event, error) {
		// Checked after the caller's role: a viewer learns it may not transfer, not why its input is odd.
		if newOwner == c.UserID {
			return nil, errs.Invalid("member.transfer_to_self", "new_owner_id", "you already own this project")
		}
		current, err := tx.Role(ctx, id, newOwner)
		if err != nil {
			return nil, err
		}
		if current == "" {
			return nil, errs.NotFound("member.not_found", "the new owner must be a member of this project")
		}
		now := s.now()
		var evs []outbox.Event
		if current != project.Owner {
			p.Bump(now)
			if err := tx.PutMember(ctx, id, project.Member{UserID: newOwner, Role: project.Owner}); err != nil {
				return nil, err
			}
			evs = append(evs, memberEvent("project.member_role_changed", *p, c, newOwner, project.Owner)...)
		}
		p.Bump(now)
		if err := tx.PutMember(ctx, id, project.Member{UserID: c.UserID, Role: project.Admin}); err != nil {
			return nil, err
		}
		evs = append(evs, memberEvent("project.member_role_changed", *p, c, c.UserID, project.Admin)...)
		p.OwnerID = newOwner
		return evs, nil
	})
}

// ListQuery pages through the caller's projects.
type ListQuery struct {
	Limit           int
	Sort            string // name, created_at, updated_at
	Desc            bool
	After           *Cursor
	IncludeArchived bool
}

// List returns the caller's projects.
func (s *Service) List(ctx context.Context, c caller.Caller, size int, token, sort, order string, archived bool) ([]WithRole, string, error) {
	q, err := parseList(size, token, sort, order)
	if err != nil {
		return nil, "", err
	}
	q.IncludeArchived = archived
	rows, err := s.Store.List(ctx, c.UserID, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > q.Limit-1 {
		rows = rows[:q.Limit-1]
		next = encodeCursor(q, rows[len(rows)-1].Project)
	}
	return rows, next, nil
}

// Search finds the caller's projects whose names are like query, best match first.
func (s *Service) Search(ctx context.Context, c caller.Caller, query string, size int) ([]WithRole, error) {
	if len([]rune(query)) < 2 || len([]rune(query)) > 100 {
		return nil, errs.Invalid("project.query_invalid", "q", "the query must be 2 to 100 characters")
	}
	if size < 0 || size > 50 {
		return nil, errs.Invalid("project.page_size_invalid", "page_size", "page_size must be between 1 and 50")
	}
	if size == 0 {
		size = 20
	}
	return s.Store.Search(ctx, c.UserID, query, size)
}
