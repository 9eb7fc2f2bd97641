package user

import (
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Session is a signed-in device: it carries the roles its access tokens grant and the hash of its
// current refresh token, and remembers the tokens it rotated out, so that presenting one again
// shows the token was stolen. How it is stored is the adapter's business.
type Session struct {
	ID          string
	UserID      string
	Roles       []string
	Region      string
	RefreshHash string
	// PreviousHashes are refresh tokens rotated out; presenting one again ends the session.
	PreviousHashes []string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	RefreshedAt    time.Time
}

// KeepPrevious bounds how many rotated-out refresh tokens a session remembers.
const KeepPrevious = 20

// Presented says what a presented refresh token hash is to the session.
type Presented int

const (
	// Unknown: not a token of this session.
	Unknown Presented = iota
	// Current: the token to rotate.
	Current
	// Reused: a token already rotated out; whoever presents it holds a stolen copy, or is the thief.
	Reused
)

// Check tells what hash is to the session.
func (s Session) Check(hash string) Presented {
	if hash == s.RefreshHash {
		return Current
	}
	for _, old := range s.PreviousHashes {
		if old == hash {
			return Reused
		}
	}
	return Unknown
}

// Rotate replaces the current refresh token with newHash at now, remembering the old one.
func (s *Session) Rotate(newHash string, now time.Time) {
	s.PreviousHashes = append(s.PreviousHashes, s.RefreshHash)
	if len(s.PreviousHashes) > KeepPrevious {
		s.PreviousHashes = s.PreviousHashes[len(s.PreviousHashes)-KeepPrevious:]
	}
	s.RefreshHash, s.RefreshedAt = newHash, now
}

// Expired reports whether the session ended by time.
func (s Session) Expired(now time.Time) bool { return now.After(s.ExpiresAt) }

// Platform roles a user can hold; every user is a member.
var assignable = map[string]bool{RoleMember: true, RoleAdmin: true}

// NewRoles checks a role change of target by actor and returns the roles in their canonical order:
// only member and admin exist, everyone keeps member, and an admin cannot take admin from
// themself (the platform would lose its last way to change roles).
func NewRoles(actorID, targetID string, roles []string) ([]string, error) {
	set := map[string]bool{}
	for _, r := range roles {
		if !assignable[r] {
			return nil, errs.Invalid("user.role_invalid", "roles", `roles may be "member" and "admin"`)
		}
		set[r] = true
	}
	if !set[RoleMember] {
		return nil, errs.Invalid("user.role_invalid", "roles", `every user keeps the "member" role`)
	}
	if actorID == targetID && !set[RoleAdmin] {
		return nil, errs.Conflict("user.self_demotion", "you cannot remove your own admin role")
	}
	out := []string{RoleMember}
	if set[RoleAdmin] {
		out = append(out, RoleAdmin)
	}
	return out, nil
}
