package app

import (
	"context"
	"sort"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/users/internal/domain/user"
)

// Refresh trades a refresh token for a new access token and a new refresh token. Each refresh token
// works once: presenting an old one means it was copied, so the whole session ends. Two concurrent
// uses of one token are told apart by the session's ETag: one rotates, the other is a reuse.
func (s *Service) Refresh(ctx context.Context, token string) (LoginResult, error) {
	id, secret, ok := splitRefresh(token)
	if !ok {
		return LoginResult{}, user.ErrRefreshInvalid()
	}
	sess, etag, err := s.Sessions.Get(ctx, id)
	if errs.As(err).Kind == errs.KindNotFound {
		return LoginResult{}, user.ErrRefreshInvalid()
	}
	if err != nil {
		return LoginResult{}, err
	}
	now := s.Now().UTC()
	newSecretValue, newHash := newSecret()
	evs, err := sess.Refresh(hashOf(secret), newHash, now)
	if len(evs) > 0 {
		return LoginResult{}, s.endReused(ctx, sess, evs)
	}
	if err != nil {
		return LoginResult{}, err
	}
	err = s.Sessions.Replace(ctx, sess, etag)
	if errs.As(err).Kind == errs.KindConflict { // another request rotated with this very token
		return LoginResult{}, s.endReused(ctx, sess, []user.Event{sess.ReuseDetected(now)})
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

// endReused ends a session whose refresh token was presented twice and audits why.
func (s *Service) endReused(ctx context.Context, sess Session, evs []user.Event) error {
	if err := s.endSession(ctx, sess.UserID, sess.ID); err != nil {
		return err
	}
	_ = s.Users.Record(ctx, published(evs))
	return user.ErrRefreshReused()
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
	if err := s.endSession(ctx, c.UserID, id); err != nil {
		return err
	}
	return s.Users.Record(ctx, []outbox.Event{audit("session.revoked", id, c.UserID, c.Region, s.Now().UTC(), "session", "success", nil)})
}
