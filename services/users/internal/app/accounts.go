package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// PurposeVerifyEmail is the action token purpose of the registration mail.
const PurposeVerifyEmail = "verify_email"

// VerifyEmail marks the address confirmed. A token works once: a verified account refuses it.
func (s *Service) VerifyEmail(ctx context.Context, token string) (user.User, error) {
	invalid := errs.Invalid("auth.verification_token_invalid", "token", "the verification token is invalid or expired")
	userID, email, err := s.Tokens.ParseAction(PurposeVerifyEmail, token)
	if err != nil {
		return user.User{}, invalid
	}
	u, err := s.Users.ByID(ctx, userID)
	if errs.As(err).Kind == errs.KindNotFound {
		return user.User{}, invalid
	}
	if err != nil {
		return user.User{}, err
	}
	if u.Email != email {
		return user.User{}, invalid // the address changed (or was erased) since the mail went out
	}
	if u.EmailVerified {
		return user.User{}, errs.Conflict("user.already_verified", "this email address is already verified")
	}
	now := s.Now().UTC()
	err = s.Users.MarkVerified(ctx, u.ID, []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.email_verified", u.ID, u.ID, u.Region, now, 0, events.UserEmailVerified{UserID: u.ID})},
		audit("user.email_verified", u.ID, u.ID, u.Region, now, "user", "success", nil),
	})
	if err != nil {
		return user.User{}, err
	}
	u.EmailVerified = true
	if s.BootstrapAdmins[u.Email] {
		return s.bootstrap(ctx, u)
	}
	return u, nil
}

// bootstrap makes a verified, listed account the platform's first admin if no bootstrap happened
// before; its sessions end, so the role applies from the next sign-in.
func (s *Service) bootstrap(ctx context.Context, u user.User) (user.User, error) {
	evs, err := u.ChangeRoles("system:users", []string{user.RoleMember, user.RoleAdmin}, s.Now().UTC())
	if err != nil {
		return u, err
	}
	claimed, err := s.Users.ClaimBootstrap(ctx, u.ID, u.Roles, published(evs))
	if err != nil || !claimed {
		u.Roles = []string{user.RoleMember}
		return u, err
	}
	return u, s.endSessions(ctx, u.ID, "")
}

// SetRoles replaces a user's platform roles. Platform admins only; an admin cannot drop its own
// admin role (so the platform keeps one). The user's sessions end, so the new roles apply at once.
func (s *Service) SetRoles(ctx context.Context, c caller.Caller, userID string, roles []string) (user.User, error) {
	if !c.IsAdmin() {
		return user.User{}, errs.PermissionDenied("user.admin_only", "only platform admins change roles")
	}
	if _, err := user.NewRoles(c.UserID, userID, roles); err != nil { // bad input before a lookup
		return user.User{}, err
	}
	if _, err := uuid.Parse(userID); err != nil {
		return user.User{}, errs.NotFound("user.not_found", "no such user")
	}
	u, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return user.User{}, err
	}
	evs, err := u.ChangeRoles(c.UserID, roles, s.Now().UTC())
	if err != nil {
		return user.User{}, err
	}
	if err := s.Users.SetRoles(ctx, u.ID, u.Roles, published(evs)); err != nil {
		return user.User{}, err
	}
	if err := s.endSessions(ctx, u.ID, ""); err != nil {
		return user.User{}, err
	}
	return u, nil
}

// Erase anonymises the caller's account, ends its sessions and publishes user.erased, on which every
// other service purges what it holds about the user.
func (s *Service) Erase(ctx context.Context, c caller.Caller) error {
	u, err := s.Users.ByID(ctx, c.UserID)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	err = s.Users.Erase(ctx, u.ID, []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.erased", u.ID, u.ID, u.Region, now, 0, events.UserErased{UserID: u.ID})},
		audit("user.erased", u.ID, u.ID, u.Region, now, "user", "success", nil),
	})
	if err != nil {
		return err
	}
	return s.endSessions(ctx, u.ID, "")
}

// PersonalData is everything users holds about a person, for an export.
type PersonalData struct {
	Profile  user.User
	Sessions []Session
}

// Export returns the caller's personal data; admins may export anyone's.
func (s *Service) Export(ctx context.Context, c caller.Caller, userID string) (PersonalData, error) {
	if userID != c.UserID && !c.IsAdmin() {
		return PersonalData{}, errs.PermissionDenied("user.export_forbidden", "you may export only your own data")
	}
	u, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return PersonalData{}, err
	}
	sessions, err := s.Sessions.ListForUser(ctx, userID)
	if err != nil {
		return PersonalData{}, err
	}
	return PersonalData{Profile: u, Sessions: sessions}, nil
}
