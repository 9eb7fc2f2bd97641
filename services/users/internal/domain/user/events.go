package user

import (
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Event is something that happened to an account or a session, as the domain states it. The
// behaviours below apply their change and return the events it caused; the app publishes each (on
// acme.users.events when others react to it) and records it in the audit trail.
type Event struct {
	Type     string // user.roles_changed, session.refresh_reused, …
	Subject  string // the user's or the session's id
	Actor    string // who did it
	Region   string
	At       time.Time
	Resource string // user or session
	Outcome  string // success, or denied for a refused attempt worth auditing
	Roles    []string
}

// ChangeRoles gives the user roles, changed by actorID (NewRoles' rules). The user's sessions carry
// the old roles; ending them is the app's part.
func (u *User) ChangeRoles(actorID string, roles []string, now time.Time) ([]Event, error) {
	sorted, err := NewRoles(actorID, u.ID, roles)
	if err != nil {
		return nil, err
	}
	u.Roles = sorted
	return []Event{{Type: "user.roles_changed", Subject: u.ID, Actor: actorID, Region: u.Region, At: now, Resource: "user",
		Outcome: "success", Roles: sorted}}, nil
}

// ErrRefreshInvalid and ErrRefreshReused are what a refused refresh answers.
func ErrRefreshInvalid() error {
	return errs.Unauthenticated("auth.refresh_invalid", "the refresh token is invalid or expired")
}

func ErrRefreshReused() error {
	return errs.Unauthenticated("auth.refresh_reused", "this refresh token was already used; the session has been ended, sign in again")
}

// Refresh rotates the session to newHash when hash is its current refresh token and it has not
// expired. A token already rotated out is a reuse: whoever presents it holds a stolen copy (or is the
// thief), so the session must end; Refresh says so with ErrRefreshReused and the event to audit.
func (s *Session) Refresh(hash, newHash string, now time.Time) ([]Event, error) {
	switch s.Check(hash) {
	case Reused:
		return []Event{s.ReuseDetected(now)}, ErrRefreshReused()
	case Unknown:
		return nil, ErrRefreshInvalid()
	}
	if s.Expired(now) {
		return nil, ErrRefreshInvalid()
	}
	s.Rotate(newHash, now)
	return nil, nil
}

// ReuseDetected is the audit event of a refresh token presented after it was used; the app also
// states it when two requests raced to rotate with one token and it lost.
func (s Session) ReuseDetected(now time.Time) Event {
	return Event{Type: "session.refresh_reused", Subject: s.ID, Actor: s.UserID, Region: s.Region, At: now, Resource: "session", Outcome: "denied"}
}
