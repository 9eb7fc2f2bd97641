package adapters

import (
	"context"
	"errors"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/users/internal/app"
)

// DaprSessions keeps sessions in the Dapr state store (Redis), each with a TTL so an abandoned
// session disappears by itself, and a per-user index of session ids (updated with ETags) so a
// user's sessions can be listed and ended together. An ended session stays ended: a refresh that
// read it before it ended cannot write it back (daprstate's tombstones).
type DaprSessions struct {
	Client dapr.Client
	Store  string
	Now    func() time.Time
}

func sessionKey(id string) string   { return "session:" + id }
func indexKey(userID string) string { return "user-sessions:" + userID }
func unavailable(err error) error {
	return errs.Unavailable("session.store_unavailable", "the session store is unavailable", err)
}

// indexTTL: the index lives as long as the longest session can.
const indexTTL = 31 * 24 * time.Hour

// storedSession is a session as Redis holds it (the names every session written so far has).
type storedSession struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	Roles          []string  `json:"roles"`
	Region         string    `json:"region"`
	RefreshHash    string    `json:"refresh_hash"`
	PreviousHashes []string  `json:"previous_hashes,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	RefreshedAt    time.Time `json:"refreshed_at,omitzero"`
}

func stored(s app.Session) storedSession     { return storedSession(s) }
func (s storedSession) session() app.Session { return app.Session(s) }

func (d DaprSessions) sessions() daprstate.Store[storedSession] {
	return daprstate.New[storedSession](d.Client, d.Store)
}
func (d DaprSessions) indexes() daprstate.Store[[]string] {
	return daprstate.New[[]string](d.Client, d.Store)
}

func (d DaprSessions) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Create saves a new session and adds it to its user's index.
func (d DaprSessions) Create(ctx context.Context, s app.Session) error {
	if err := d.sessions().Create(ctx, sessionKey(s.ID), stored(s), s.ExpiresAt.Sub(d.now())); err != nil {
		return unavailable(err)
	}
	return d.updateIndex(ctx, s.UserID, func(ids []string) []string { return append(ids, s.ID) })
}

// Get returns the session and its ETag, or errs.KindNotFound once it ended or expired.
func (d DaprSessions) Get(ctx context.Context, id string) (app.Session, string, error) {
	s, etag, found, err := d.sessions().Get(ctx, sessionKey(id))
	if err != nil {
		return app.Session{}, "", unavailable(err)
	}
	if !found {
		return app.Session{}, "", errs.NotFound("session.not_found", "no such session")
	}
	return s.session(), etag, nil
}

// Replace saves s only if the stored session is still at etag: not if it changed or ended since.
func (d DaprSessions) Replace(ctx context.Context, s app.Session, etag string) error {
	err := d.sessions().Replace(ctx, sessionKey(s.ID), stored(s), etag, s.ExpiresAt.Sub(d.now()))
	if errors.Is(err, daprstate.ErrConflict) {
		return errs.Conflict("session.changed", "the session changed concurrently")
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Delete ends a session and drops it from the index.
func (d DaprSessions) Delete(ctx context.Context, userID, id string) error {
	if err := d.sessions().Delete(ctx, sessionKey(id)); err != nil {
		return unavailable(err)
	}
	return d.updateIndex(ctx, userID, func(ids []string) []string { return without(ids, id) })
}

func without(ids []string, drop ...string) []string {
	out := ids[:0:0]
	for _, id := range ids {
		keep := true
		for _, d := range drop {
			keep = keep && id != d
		}
		if keep {
			out = append(out, id)
		}
	}
	return out
}

// ListForUser returns the user's open sessions, pruning ended and expired ids from the index.
func (d DaprSessions) ListForUser(ctx context.Context, userID string) ([]app.Session, error) {
	ids, _, _, err := d.indexes().Get(ctx, indexKey(userID))
	if err != nil {
		return nil, unavailable(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = sessionKey(id)
	}
	found, err := d.sessions().GetMany(ctx, keys)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []app.Session
	var gone []string
	for _, id := range ids {
		s, ok := found[sessionKey(id)]
		if !ok {
			gone = append(gone, id)
			continue
		}
		if s.UserID == userID {
			out = append(out, s.session())
		}
	}
	if len(gone) > 0 {
		_ = d.updateIndex(ctx, userID, func(ids []string) []string { return without(ids, gone...) })
	}
	return out, nil
}

// DeleteAllForUser ends every session of the user except keep.
func (d DaprSessions) DeleteAllForUser(ctx context.Context, userID, keep string) error {
	ids, _, _, err := d.indexes().Get(ctx, indexKey(userID))
	if err != nil {
		return unavailable(err)
	}
	var ended []string
	for _, id := range ids {
		if id == keep {
			continue
		}
		if err := d.sessions().Delete(ctx, sessionKey(id)); err != nil {
			return unavailable(err)
		}
		ended = append(ended, id)
	}
	return d.updateIndex(ctx, userID, func(ids []string) []string { return without(ids, ended...) })
}

// updateIndex applies change under optimistic concurrency, retrying when another writer won.
func (d DaprSessions) updateIndex(ctx context.Context, userID string, change func([]string) []string) error {
	_, err := d.indexes().Update(ctx, indexKey(userID), indexTTL, func(ids *[]string, _ bool) error {
		*ids = change(*ids)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}
