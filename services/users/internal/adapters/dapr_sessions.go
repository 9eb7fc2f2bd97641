package adapters

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/users/internal/app"
)

// DaprSessions keeps sessions in the Dapr state store (Redis), each with a TTL so an abandoned
// session disappears by itself.
type DaprSessions struct {
	Client dapr.Client
	Store  string
}

func sessionKey(id string) string { return "session:" + id }

// Put saves s for ttl.
func (d DaprSessions) Put(ctx context.Context, s app.Session, ttl time.Duration) error {
	b, err := json.Marshal(s)
	if err != nil {
		return errs.Internal(err)
	}
	md := map[string]string{"ttlInSeconds": strconv.Itoa(int(ttl.Seconds())), "contentType": "application/json"}
	if err := d.Client.SaveState(ctx, d.Store, sessionKey(s.ID), b, md); err != nil {
		return errs.Unavailable("session.store_unavailable", "the session store is unavailable", err)
	}
	return nil
}

// Get returns the session, or errs.KindNotFound once it ended or expired.
func (d DaprSessions) Get(ctx context.Context, id string) (app.Session, error) {
	item, err := d.Client.GetState(ctx, d.Store, sessionKey(id), nil)
	if err != nil {
		return app.Session{}, errs.Unavailable("session.store_unavailable", "the session store is unavailable", err)
	}
	if item == nil || len(item.Value) == 0 {
		return app.Session{}, errs.NotFound("session.not_found", "no such session")
	}
	var s app.Session
	if err := json.Unmarshal(item.Value, &s); err != nil {
		return app.Session{}, errs.Internal(err)
	}
	return s, nil
}

// Delete ends the session.
func (d DaprSessions) Delete(ctx context.Context, id string) error {
	if err := d.Client.DeleteState(ctx, d.Store, sessionKey(id), nil); err != nil {
		return errs.Unavailable("session.store_unavailable", "the session store is unavailable", err)
	}
	return nil
}
