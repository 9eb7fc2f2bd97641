package project

import (
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Role is a member's standing in a project; a higher rank may do everything a lower one may.
type Role string

const (
	Viewer Role = "viewer"
	Editor Role = "editor"
	Admin  Role = "admin"
	Owner  Role = "owner"
)

var rank = map[Role]int{Viewer: 1, Editor: 2, Admin: 3, Owner: 4}

// ParseRole reads a role.
func ParseRole(s string) (Role, error) {
	if _, ok := rank[Role(s)]; !ok {
		return "", errs.Invalid("member.role_invalid", "role", "role must be owner, admin, editor or viewer")
	}
	return Role(s), nil
}

// AtLeast reports whether r ranks at least as high as min.
func (r Role) AtLeast(min Role) bool { return rank[r] >= rank[min] }

// Rank orders roles: owner 4 down to viewer 1; 0 for no role.
func (r Role) Rank() int { return rank[r] }

// Action is something a caller does to a project.
type Action int

const (
	Read Action = iota
	Edit
	ManageMembers
	Delete
	Transfer
)

var needs = map[Action]Role{Read: Viewer, Edit: Editor, ManageMembers: Admin, Delete: Owner, Transfer: Owner}

// Authorize checks that a caller with role (empty: not a member) may do a. A non-member learns
// nothing about a project it cannot see: it gets not found, never forbidden.
func Authorize(role Role, visible bool, a Action) error {
	if role == "" {
		if a == Read && visible {
			return nil
		}
		if !visible {
			return errs.NotFound("project.not_found", "no such project")
		}
		return errs.PermissionDenied("project.forbidden", "you are not a member of this project")
	}
	if !role.AtLeast(needs[a]) {
		return errs.PermissionDenied("project.forbidden", "your role in this project does not allow this")
	}
	return nil
}

// Member is a user's membership.
type Member struct {
	UserID  string
	Role    Role
	AddedAt time.Time
}

// CanAssign checks that a caller with role actor may give role to (or take it from) a member whose
// current role is from: admins manage editors and viewers and other admins below owner; only owners
// grant, change or remove ownership.
func CanAssign(actor, from, to Role) error {
	if !actor.AtLeast(Admin) {
		return errs.PermissionDenied("project.forbidden", "only admins and owners manage members")
	}
	if (from == Owner || to == Owner) && actor != Owner {
		return errs.PermissionDenied("member.owner_only", "only an owner can grant or change ownership")
	}
	return nil
}

// KeepsAnOwner checks that a project whose owners are owners still has one after member userID
// leaves the owner role.
func KeepsAnOwner(owners []string, userID string) error {
	for _, o := range owners {
		if o != userID {
			return nil
		}
	}
	return errs.Conflict("member.last_owner", "the last owner cannot leave or be demoted; transfer ownership first")
}
