package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/users/internal/app"
)

// DaprSessions keeps sessions in the Dapr state store (Redis), each with a TTL so an abandoned
// session disappears by itself, and a per-user index of session ids (updated with ETags) so a
// user's sessions can be listed and ended together.
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
func isETagMismatch(err error) bool {
	c := status.Code(err)
	return c == codes.Aborted || c == codes.FailedPrecondition
}
func ttlMeta(d time.Duration) map[string]string {
	return map[string]string{"ttlInSeconds": strconv.Itoa(max(1, int(d.Seconds()))), "contentType": "application/json"}
}

func (d DaprSessions) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Create saves a new session and adds it to its user's index.
func (d DaprSessions) Create(ctx context.Context, s app.Session) error {
	if err := d.save(ctx, s, ""); err != nil {
		return err
	}
	return d.updateIndex(ctx, s.UserID, func(ids []string) []string { return append(ids, s.ID) })
}

func (d DaprSessions) save(ctx context.Context, s app.Session, etag string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return errs.Internal(err)
	}
	meta := ttlMeta(s.ExpiresAt.Sub(d.now()))
	if etag == "" {
		err = d.Client.SaveState(ctx, d.Store, sessionKey(s.ID), b, meta)
	} else {
		err = d.Client.SaveStateWithETag(ctx, d.Store, sessionKey(s.ID), b, etag, meta, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	}
	if err != nil {
		if etag != "" && isETagMismatch(err) {
			return errs.Conflict("session.changed", "the session changed concurrently")
		}
		return unavailable(err)
	}
	return nil
}

// Get returns the session and its ETag, or errs.KindNotFound once it ended or expired.
func (d DaprSessions) Get(ctx context.Context, id string) (app.Session, string, error) {
	item, err := d.Client.GetState(ctx, d.Store, sessionKey(id), nil)
	if err != nil {
		return app.Session{}, "", unavailable(err)
	}
	if item == nil || len(item.Value) == 0 {
		return app.Session{}, "", errs.NotFound("session.not_found", "no such session")
	}
	var s app.Session
	if err := json.Unmarshal(item.Value, &s); err != nil {
		return app.Session{}, "", errs.Internal(err)
	}
	return s, item.Etag, nil
}

// Replace saves s only if the stored session is still at etag.
func (d DaprSessions) Replace(ctx context.Context, s app.Session, etag string) error {
	return d.save(ctx, s, etag)
}

// Delete ends a session and drops it from the index.
func (d DaprSessions) Delete(ctx context.Context, userID, id string) error {
	if err := d.Client.DeleteState(ctx, d.Store, sessionKey(id), nil); err != nil {
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

// ListForUser returns the user's open sessions, pruning expired ids from the index as it goes.
func (d DaprSessions) ListForUser(ctx context.Context, userID string) ([]app.Session, error) {
	ids, _, err := d.index(ctx, userID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = sessionKey(id)
	}
	items, err := d.Client.GetBulkState(ctx, d.Store, keys, nil, 8)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []app.Session
	var gone []string
	for _, it := range items {
		if it.Error != "" || len(it.Value) == 0 {
			gone = append(gone, it.Key[len("session:"):])
			continue
		}
		var s app.Session
		if json.Unmarshal(it.Value, &s) == nil && s.UserID == userID {
			out = append(out, s)
		}
	}
	if len(gone) > 0 {
		_ = d.updateIndex(ctx, userID, func(ids []string) []string { return without(ids, gone...) })
	}
	return out, nil
}

// DeleteAllForUser ends every session of the user except keep.
func (d DaprSessions) DeleteAllForUser(ctx context.Context, userID, keep string) error {
	ids, _, err := d.index(ctx, userID)
	if err != nil {
		return err
	}
	var ended []string
	for _, id := range ids {
		if id == keep {
			continue
		}
		if err := d.Client.DeleteState(ctx, d.Store, sessionKey(id), nil); err != nil {
			return unavailable(err)
		}
		ended = append(ended, id)
	}
	return d.updateIndex(ctx, userID, func(ids []string) []string { return without(ids, ended...) })
}

func (d DaprSessions) index(ctx context.Context, userID string) ([]string, string, error) {
	item, err := d.Client.GetState(ctx, d.Store, indexKey(userID), nil)
	if err != nil {
		return nil, "", unavailable(err)
	}
	var ids []string
	if item != nil && len(item.Value) > 0 {
		if err := json.Unmarshal(item.Value, &ids); err != nil {
			return nil, "", errs.Internal(err)
		}
	}
	etag := ""
	if item != nil {
		etag = item.Etag
	}
	return ids, etag, nil
}

// updateIndex applies change under optimistic concurrency, retrying when another writer won.
func (d DaprSessions) updateIndex(ctx context.Context, userID string, change func([]string) []string) error {
	for attempt := 0; attempt < 8; attempt++ {
		ids, etag, err := d.index(ctx, userID)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(change(ids))
		// The index lives as long as the longest session can.
		meta := ttlMeta(31 * 24 * time.Hour)
		opts := []dapr.StateOption{dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)}
		if etag == "" {
			err = d.Client.SaveState(ctx, d.Store, indexKey(userID), b, meta, opts...)
		} else {
			err = d.Client.SaveStateWithETag(ctx, d.Store, indexKey(userID), b, etag, meta, opts...)
		}
		if err == nil {
			return nil
		}
		if !isETagMismatch(err) {
			return unavailable(err)
		}
	}
	return unavailable(fmt.Errorf("session index of %s: too much contention", userID))
}
