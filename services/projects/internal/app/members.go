package app

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Members lists a project's members for a caller who may see the project.
func (s *Service) Members(ctx context.Context, c caller.Caller, id string) ([]project.Member, error) {
	if _, err := s.Get(ctx, c, id); err != nil {
		return nil, err
	}
	return s.Store.Members(ctx, id)
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
	_, err = s.mutate(ctx, c, id, project.ManageMembers, false, func(tx Tx, p *project.Project, actor project.Role) ([]project.Event, error) {
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
		member, evs, err := p.AddMember(userID, current, r, s.now())
		if err != nil {
			return nil, err
		}
		m = member
		return evs, tx.PutMember(ctx, id, m)
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
	_, err = s.mutate(ctx, c, id, project.ManageMembers, false, func(tx Tx, p *project.Project, actor project.Role) ([]project.Event, error) {
		current, err := tx.Role(ctx, id, userID)
		if err != nil {
			return nil, err
		}
		if current != "" {
			if err := project.CanAssign(actor, current, r); err != nil {
				return nil, err
			}
		}
		owners, err := ownersIfOwner(ctx, tx, id, current)
		if err != nil {
			return nil, err
		}
		evs, err := p.ChangeRole(userID, current, r, owners, s.now())
		if err != nil || len(evs) == 0 {
			m = project.Member{UserID: userID, Role: r}
			return nil, err
		}
		m = project.Member{UserID: userID, Role: r}
		return evs, tx.PutMember(ctx, id, m)
	})
	return m, err
}

// ownersIfOwner is the project's owners when current is Owner (the domain needs them to keep one),
// and nothing to read otherwise.
func ownersIfOwner(ctx context.Context, tx Tx, projectID string, current project.Role) ([]string, error) {
	if current != project.Owner {
		return nil, nil
	}
	return tx.Owners(ctx, projectID)
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
	_, err := s.mutate(ctx, c, id, action, false, func(tx Tx, p *project.Project, actor project.Role) ([]project.Event, error) {
		current, err := tx.Role(ctx, id, userID)
		if err != nil {
			return nil, err
		}
		if current != "" && userID != c.UserID {
			if err := project.CanAssign(actor, current, ""); err != nil {
				return nil, err
			}
		}
		owners, err := ownersIfOwner(ctx, tx, id, current)
		if err != nil {
			return nil, err
		}
		evs, err := p.RemoveMember(userID, current, owners, s.now())
		if err != nil {
			return nil, err
		}
		return evs, tx.DeleteMember(ctx, id, userID)
	})
	return err
}

// TransferOwnership makes a member the owner and the caller an admin, if the new owner's plan allows
// one more project.
func (s *Service) TransferOwnership(ctx context.Context, c caller.Caller, id, newOwner string) (WithRole, error) {
	if err := checkUserID(newOwner); err != nil {
		return WithRole{}, err
	}
	return s.mutate(ctx, c, id, project.Transfer, false, func(tx Tx, p *project.Project, _ project.Role) ([]project.Event, error) {
		current := project.Role("")
		if newOwner != c.UserID { // checked after the caller's role: a viewer learns it may not transfer, not why its input is odd
			var err error
			if current, err = tx.Role(ctx, id, newOwner); err != nil {
				return nil, err
			}
		}
		evs, err := p.Transfer(c.UserID, newOwner, current, s.now())
		if err != nil {
			return nil, err
		}
		// The new owner's plan must allow one more project, as a create would ask (under the same
		// per-owner lock, so a transfer cannot race a create past the limit). A co-owner already
		// counts it.
		if s.Billing != nil && current != project.Owner {
			owned, err := tx.CountOwned(ctx, newOwner)
			if err != nil {
				return nil, err
			}
			if err := s.Billing.Allow(ctx, newOwner, "projects", owned+1); err != nil {
				return nil, err
			}
		}
		if current != project.Owner {
			if err := tx.PutMember(ctx, id, project.Member{UserID: newOwner, Role: project.Owner}); err != nil {
				return nil, err
			}
		}
		return evs, tx.PutMember(ctx, id, project.Member{UserID: c.UserID, Role: project.Admin})
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
	rows = s.shownAll(rows)
	next := ""
	if len(rows) > q.Limit-1 {
		rows = rows[:q.Limit-1]
		next = encodeCursor(q, rows[len(rows)-1].Project)
	}
	return rows, next, nil
}

// Search finds the caller's projects whose names are like query, best match first.
func (s *Service) Search(ctx context.Context, c caller.Caller, query string, size int) ([]WithRole, error) {
	// NUL cannot reach PostgreSQL's text (found by schemathesis: it was a 500).
	if len([]rune(query)) < 2 || len([]rune(query)) > 100 || strings.ContainsRune(query, 0) {
		return nil, errs.Invalid("project.query_invalid", "q", "the query must be 2 to 100 characters, none of them NUL")
	}
	if size < 0 || size > 50 {
		return nil, errs.Invalid("project.page_size_invalid", "page_size", "page_size must be between 1 and 50")
	}
	if size == 0 {
		size = 20
	}
	rows, err := s.Store.Search(ctx, c.UserID, query, size)
	return s.shownAll(rows), err
}
