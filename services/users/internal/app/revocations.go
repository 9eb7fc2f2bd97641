package app

import (
	"context"
	"time"

	"github.com/acme/platform/services/platform/accesstoken"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
)

// Revocations keeps the sessions ended while access tokens of theirs may still be unexpired, for the
// gateways that verify tokens themselves: they read what was revoked since their last look.
type Revocations interface {
	// Record notes that the sessions ended; their tokens are all expired by until.
	Record(ctx context.Context, sessionIDs []string, until time.Time) error
	// Since lists up to limit revocations recorded at or after since, oldest first, whose tokens
	// may still be valid, and the store's time of the read.
	Since(ctx context.Context, since time.Time, limit int) ([]Revocation, time.Time, error)
	// Purge forgets revocations whose tokens are all expired before before.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Revocation is one ended session.
type Revocation struct {
	SessionID            string
	RevokedAt, ExpiresAt time.Time
}

// RevocationPage bounds one answer of Revocations.
const RevocationPage = 5000

// endSession ends one session. Its revocation is recorded first: were the session's deletion to
// fail after, the token is refused anyway, never accepted after a reported revocation.
func (s *Service) endSession(ctx context.Context, userID, id string) error {
	if err := s.revoke(ctx, []string{id}); err != nil {
		return err
	}
	return s.Sessions.Delete(ctx, userID, id)
}

// endSessions ends every session of the user except keep ("" for none), recording their revocation
// first.
func (s *Service) endSessions(ctx context.Context, userID, keep string) error {
	sessions, err := s.Sessions.ListForUser(ctx, userID)
	if err != nil {
		return err
	}
	var ids []string
	for _, sess := range sessions {
		if sess.ID != keep {
			ids = append(ids, sess.ID)
		}
	}
	if err := s.revoke(ctx, ids); err != nil {
		return err
	}
	return s.Sessions.DeleteAllForUser(ctx, userID, keep)
}

func (s *Service) revoke(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// Tokens issued from now on for these sessions cannot exist; those issued before expire within
	// AccessTTL (and the verifiers' leeway).
	return s.Revocations.Record(ctx, ids, s.Now().Add(s.AccessTTL+accesstoken.Leeway))
}

// ListRevocations is the feed the gateways read (platform services only).
func (s *Service) ListRevocations(ctx context.Context, c caller.Caller, since time.Time) ([]Revocation, bool, time.Time, error) {
	if !c.IsSystem() {
		return nil, false, time.Time{}, errs.PermissionDenied("auth.system_only", "only platform services may read revocations")
	}
	rows, asOf, err := s.Revocations.Since(ctx, since, RevocationPage+1)
	if err != nil {
		return nil, false, time.Time{}, err
	}
	more := len(rows) > RevocationPage
	if more {
		rows = rows[:RevocationPage]
	}
	return rows, more, asOf, nil
}

// PurgeRevocations forgets, every interval, the revocations no token can need any more.
func (s *Service) PurgeRevocations(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			// A failed purge only keeps rows longer; the next one catches up.
			_, _ = s.Revocations.Purge(ctx, s.Now().Add(-time.Minute))
		}
	}
}
