package app

import (
	"context"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// ResetTTL is how long a password reset token works.
const ResetTTL = time.Hour

// ChangePassword checks the current password, sets the new one and ends every other session.
func (s *Service) ChangePassword(ctx context.Context, c caller.Caller, current, next string) error {
	u, err := s.Users.ByID(ctx, c.UserID)
	if err != nil {
		return err
	}
	hash, err := s.Users.PasswordHash(ctx, u.ID)
	if err != nil {
		return err
	}
	if ok, _ := s.Hasher.Verify(current, hash); !ok {
		return errs.Invalid("user.current_password_wrong", "current_password", "the current password is wrong")
	}
	if err := user.CheckPassword(next, u.Email); err != nil {
		return err
	}
	if current == next {
		return errs.Invalid("user.password_unchanged", "new_password", "the new password is the current one")
	}
	if err := s.setPassword(ctx, u, next, "user.password_changed"); err != nil {
		return err
	}
	if err := s.ResetTokens.RevokeAll(ctx, u.ID); err != nil { // a reset link mailed before no longer works
		return err
	}
	return s.endSessions(ctx, u.ID, c.SessionID)
}

func (s *Service) setPassword(ctx context.Context, u user.User, password, auditType string) error {
	hash, err := s.Hasher.Hash(password)
	if err != nil {
		return errs.Internal(err)
	}
	now := s.Now().UTC()
	return s.Users.SetPassword(ctx, u.ID, hash, []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.password_changed", u.ID, u.ID, u.Region, now, 0, events.PasswordChanged{UserID: u.ID})},
		audit(auditType, u.ID, u.ID, u.Region, now, "user", "success", nil),
	})
}

// RequestPasswordReset stores a one-hour reset token (ending the account's previous one) and
// publishes it for notifications to mail. An unknown email gets the same answer and nothing
// happens, so the answer reveals no account; so does an account past its bound of reset mails
// (ResetsPerHour), which keeps a flood of requests from becoming a flood of mail.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	e, err := user.NormalizeEmail(email)
	if err != nil {
		return err
	}
	key := "reset:" + attemptKeys(e, "")[0]
	if wait, err := s.Attempts.Reserve(ctx, []string{key}); err != nil || wait > 0 {
		return err
	}
	u, _, err := s.Users.ByEmail(ctx, e)
	if errs.As(err).Kind == errs.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	// The event carries no token: notifications asks for one (IssueMailToken) when it sends the mail.
	now := s.Now().UTC()
	return s.Users.Record(ctx, []outbox.Event{
		{Topic: events.TopicUsers, Envelope: envelope("user.password_reset_requested", u.ID, u.ID, u.Region, now, 0,
			events.PasswordResetRequested{UserID: u.ID, Email: u.Email, ExpiresAt: now.Add(ResetTTL).Truncate(time.Millisecond)})},
		audit("user.password_reset_requested", u.ID, u.ID, u.Region, now, "user", "success", nil),
	})
}

var errResetInvalid = errs.Invalid("auth.reset_token_invalid", "token", "the reset token is invalid, used or expired")

// ConfirmPasswordReset sets a new password with a reset token, once, and ends every session and
// every other outstanding reset token. The new password is checked before the token is spent (the
// token is only looked at), so a weak one does not waste it, and the token keeps the expiry it had.
func (s *Service) ConfirmPasswordReset(ctx context.Context, token, password string) error {
	if token == "" || len(token) > 128 {
		return errResetInvalid
	}
	if len(password) < user.MinPasswordLength {
		return user.CheckPassword(password, "")
	}
	userID, err := s.ResetTokens.Peek(ctx, hashOf(token))
	if errs.As(err).Kind == errs.KindNotFound {
		return errResetInvalid
	}
	if err != nil {
		return err
	}
	u, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return err
	}
	if err := user.CheckPassword(password, u.Email); err != nil {
		return err
	}
	if _, err := s.ResetTokens.Take(ctx, hashOf(token)); errs.As(err).Kind == errs.KindNotFound {
		return errResetInvalid // used meanwhile by a concurrent confirm
	} else if err != nil {
		return err
	}
	if err := s.setPassword(ctx, u, password, "user.password_reset"); err != nil {
		return err
	}
	if err := s.ResetTokens.RevokeAll(ctx, u.ID); err != nil {
		return err
	}
	return s.endSessions(ctx, u.ID, "")
}

// Mail token purposes.
const PurposeResetPassword = "reset_password"

// IssueMailToken makes the token of a mail as notifications sends it, so that no event, outbox row,
// Kafka record or dead letter holds a usable secret: a verification token (24 h) for an account
// not yet verified, or a reset token (1 h) that becomes the account's one outstanding reset token.
// Platform services only.
func (s *Service) IssueMailToken(ctx context.Context, c caller.Caller, userID, purpose string) (string, time.Time, error) {
	if !c.IsSystem() {
		return "", time.Time{}, errs.PermissionDenied("user.system_only", "only platform services issue mail tokens")
	}
	u, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.Now().UTC()
	switch purpose {
	case PurposeVerifyEmail:
		if u.EmailVerified {
			return "", time.Time{}, errs.Conflict("user.already_verified", "this email address is already verified")
		}
		tok, err := s.Tokens.IssueAction(PurposeVerifyEmail, u.ID, u.Email, VerificationTTL)
		if err != nil {
			return "", time.Time{}, errs.Internal(err)
		}
		return tok, now.Add(VerificationTTL), nil
	case PurposeResetPassword:
		token, hash := newSecret()
		if err := s.ResetTokens.Save(ctx, hash, u.ID, ResetTTL); err != nil {
			return "", time.Time{}, err
		}
		return token, now.Add(ResetTTL), nil
	}
	return "", time.Time{}, errs.Invalid("user.purpose_invalid", "purpose", "purpose must be verify_email or reset_password")
}
