package app

import (
	"context"
	"sort"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

var (
	errRefreshInvalid = errs.Unauthenticated("auth.refresh_invalid", "the refresh token is invalid or expired")
	errRefreshReused  = errs.Unauthenticated("auth.refresh_reused",
		"this refresh token was already used; the session has been ended, sign in again")
)

// Refresh trades a refresh token for a new access token and a new refresh token. Each refresh token
// works once: presenting an old one means it was copied, so the whole session ends. Two concurrent
// uses of one token are told apart by the session's ETag: one rotates, the other is a reuse.
func (s *Service) Refresh(ctx context.Context, token string) (LoginResult, error) {
	id, secret, ok := splitRefresh(token)
	if !ok {
		return LoginResult{}, errRefreshInvalid
	}
	sess, etag, err := s.Sessions.Get(ctx, id)
	if errs.As(err).Kind == errs.KindNotFound {
		return LoginResult{}, errRefreshInvalid
	}
	if err != nil {
		return LoginResult{}, err
	}
	switch sess.Check(hashOf(secret)) {
	case user.Reused:
		return LoginResult{}, s.endReused(ctx, sess)
	case user.Unknown:
		return LoginResult{}, errRefreshInvalid
	}
	now := s.Now().UTC()
	if sess.Expired(now) {
		return LoginResult{}, errRefreshInvalid
	}
	newSecretValue, newHash := newSecret()
	sess.Rotate(newHash, now)
	err = s.Sessions.Replace(ctx, sess, etag)
	if errs.As(err).Kind == errs.KindConflict {
		return LoginResult{}, s.endReused(ctx, sess) // another request rotated with this very token
	}
	if err != nil {
		return LoginResult{}, err
	}
	u, err := s.Users.ByID(ctx, sess.UserID)
	if err != nil {
		return LoginResult{}, err
	}
	exp := now.Add(s.AccessTTL)
	tok, err := s.Tokens.Issue(Claims{UserID: sess.UserID, SessionID: sess.ID, Roles: sess.Roles, Region: sess.Region, ExpiresAt: exp})
	if err != nil {
		return LoginResult{}, errs.Internal(err)
	}
	return LoginResult{AccessToken: tok, RefreshToken: sess.ID + "." + newSecretValue, ExpiresAt: exp, User: u}, nil
}

func (s *Service) endReused(ctx context.Context, sess Session) error {
	if err := s.Sessions.Delete(ctx, sess.UserID, sess.ID); err != nil {
		return err
	}
	_ = s.Users.Record(ctx, []outbox.Event{audit("session.refresh_reused", sess.ID, sess.UserID, sess.Region, s.Now().UTC(),
		"session", "denied", nil)})
	return errRefreshReused
}

// SessionView is a session as its owner sees it.
type SessionView struct {
	Session
	Current bool
}

// ListSessions returns the caller's open sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, c caller.Caller) ([]SessionView, error) {
	list, err := s.Sessions.ListForUser(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.After(list[j].CreatedAt) })
	out := make([]SessionView, 0, len(list))
	for _, sess := range list {
		out = append(out, SessionView{Session: sess, Current: sess.ID == c.SessionID})
	}
	return out, nil
}

// RevokeSession ends one of the caller's sessions; another user's session is not found.
func (s *Service) RevokeSession(ctx context.Context, c caller.Caller, id string) error {
	sess, _, err := s.Sessions.Get(ctx, id)
	if errs.As(err).Kind == errs.KindNotFound || (err == nil && sess.UserID != c.UserID) {
		return errs.NotFound("session.not_found", "no such session")
	}
	if err != nil {
		return err
	}
	if err := s.Sessions.Delete(ctx, c.UserID, id); err != nil {
		return err
	}
	return s.Users.Record(ctx, []outbox.Event{audit("session.revoked", id, c.UserID, c.Region, s.Now().UTC(), "session", "success", nil)})
}
