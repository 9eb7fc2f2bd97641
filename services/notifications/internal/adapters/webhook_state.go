package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"

	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
)

// state is the Dapr state store (Redis) through daprstate, with the conflict-reporting shape the
// webhook records share.
type state struct {
	Client dapr.Client
	Store  string
}

func unavailable(err error) error {
	return errs.Unavailable("notifications.state_unavailable", "the notification store is unavailable", err)
}

// get reads key into v; false when there is none. It returns the ETag for a later put.
func (s state) get(ctx context.Context, key string, v any) (bool, string, error) {
	raw, etag, found, err := daprstate.New[json.RawMessage](s.Client, s.Store).Get(ctx, key)
	if err != nil {
		return false, "", unavailable(err)
	}
	if !found {
		return false, etag, nil
	}
	return true, etag, json.Unmarshal(raw, v)
}

// put writes v at key: only if absent (etag ""), or only if still at etag. It reports conflicts.
func (s state) put(ctx context.Context, key string, v any, etag string, ttl time.Duration) (bool, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	st := daprstate.New[json.RawMessage](s.Client, s.Store)
	if etag == "" {
		err = st.Create(ctx, key, b, ttl)
	} else {
		err = st.Replace(ctx, key, b, etag, ttl)
	}
	if errors.Is(err, daprstate.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// update applies change to the value at key under optimistic concurrency, retrying on conflicts.
func update[T any](ctx context.Context, s state, key string, change func(v *T, exists bool) error) (T, error) {
	return updateWith(ctx, s, key, 0, change)
}

func updateWith[T any](ctx context.Context, s state, key string, ttl time.Duration, change func(v *T, exists bool) error) (T, error) {
	var changeErr error
	v, err := daprstate.New[T](s.Client, s.Store).Update(ctx, key, ttl, func(v *T, exists bool) error {
		changeErr = change(v, exists)
		return changeErr
	})
	if err != nil && err != changeErr { //nolint:errorlint // the change's own error passes through as it is
		return v, unavailable(err)
	}
	return v, err
}

// StateWebhooks keeps webhooks at webhook:<id> and each project's list at project-webhooks:<id>.
type StateWebhooks struct{ state }

// NewStateWebhooks returns the webhook store.
func NewStateWebhooks(c dapr.Client, store string) StateWebhooks {
	return StateWebhooks{state{c, store}}
}

func hookKey(id string) string         { return "webhook:" + id }
func projectHooksKey(id string) string { return "project-webhooks:" + id }

// Create stores the webhook and lists it under its project.
func (s StateWebhooks) Create(ctx context.Context, w app.Webhook) error {
	if _, err := s.put(ctx, hookKey(w.ID), w, "", 0); err != nil {
		return err
	}
	_, err := update(ctx, s.state, projectHooksKey(w.ProjectID), func(ids *[]string, _ bool) error {
		if !slices.Contains(*ids, w.ID) {
			*ids = append(*ids, w.ID)
		}
		return nil
	})
	return err
}

// Get reads one webhook.
func (s StateWebhooks) Get(ctx context.Context, id string) (app.Webhook, bool, error) {
	var w app.Webhook
	if _, err := uuid.Parse(id); err != nil {
		return w, false, nil
	}
	ok, _, err := s.get(ctx, hookKey(id), &w)
	return w, ok, err
}

// Update changes a webhook under optimistic concurrency.
func (s StateWebhooks) Update(ctx context.Context, id string, change func(*app.Webhook) error) (app.Webhook, error) {
	return update(ctx, s.state, hookKey(id), func(w *app.Webhook, exists bool) error {
		if !exists {
			return errs.NotFound("webhook.not_found", "no such webhook")
		}
		return change(w)
	})
}

// Delete removes the webhook from its project and the store.
func (s StateWebhooks) Delete(ctx context.Context, w app.Webhook) error {
	if _, err := update(ctx, s.state, projectHooksKey(w.ProjectID), func(ids *[]string, _ bool) error {
		*ids = slices.DeleteFunc(*ids, func(id string) bool { return id == w.ID })
		return nil
	}); err != nil {
		return err
	}
	if err := daprstate.New[app.Webhook](s.Client, s.Store).Delete(ctx, hookKey(w.ID)); err != nil {
		return unavailable(err)
	}
	return nil
}

// ForProject lists a project's webhooks.
func (s StateWebhooks) ForProject(ctx context.Context, projectID string) ([]app.Webhook, error) {
	var ids []string
	if _, _, err := s.get(ctx, projectHooksKey(projectID), &ids); err != nil {
		return nil, err
	}
	out := []app.Webhook{}
	for _, id := range ids {
		w, ok, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, w)
		}
	}
	return out, nil
}

// StateDeliveries keeps deliveries at delivery:<id> (for 7 days) and each endpoint's newest 50 ids
// at deliveries:<endpoint>.
type StateDeliveries struct{ state }

// NewStateDeliveries returns the delivery store.
func NewStateDeliveries(c dapr.Client, store string) StateDeliveries {
	return StateDeliveries{state{c, store}}
}

// deliveryTTL outlives the 24 h of retries, so the log shows how each delivery ended.
const deliveryTTL = 7 * 24 * time.Hour

const recentDeliveries = 50

func deliveryKey(id string) string          { return "delivery:" + id }
func endpointLogKey(endpoint string) string { return "deliveries:" + endpoint }

// Create stores d unless it exists, and lists it first in its endpoint's log.
func (s StateDeliveries) Create(ctx context.Context, d app.Delivery) (bool, error) {
	ok, err := s.put(ctx, deliveryKey(d.ID), d, "", deliveryTTL)
	if err != nil || !ok {
		return false, err
	}
	_, err = update(ctx, s.state, endpointLogKey(d.WebhookID), func(ids *[]string, _ bool) error {
		*ids = append([]string{d.ID}, slices.DeleteFunc(*ids, func(id string) bool { return id == d.ID })...)
		if len(*ids) > recentDeliveries {
			*ids = (*ids)[:recentDeliveries]
		}
		return nil
	})
	return true, err
}

// Get reads one delivery.
func (s StateDeliveries) Get(ctx context.Context, id string) (app.Delivery, bool, error) {
	var d app.Delivery
	ok, _, err := s.get(ctx, deliveryKey(id), &d)
	return d, ok, err
}

// Update changes a delivery under optimistic concurrency.
func (s StateDeliveries) Update(ctx context.Context, id string, change func(*app.Delivery) error) (app.Delivery, error) {
	return updateWith(ctx, s.state, deliveryKey(id), deliveryTTL, func(d *app.Delivery, exists bool) error {
		if !exists {
			return app.ErrNoDelivery
		}
		return change(d)
	})
}

// Recent lists an endpoint's newest deliveries, newest first.
func (s StateDeliveries) Recent(ctx context.Context, endpoint string) ([]app.Delivery, error) {
	var ids []string
	if _, _, err := s.get(ctx, endpointLogKey(endpoint), &ids); err != nil {
		return nil, err
	}
	out := []app.Delivery{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = deliveryKey(id)
	}
	found, err := daprstate.New[app.Delivery](s.Client, s.Store).GetMany(ctx, keys)
	if err != nil {
		return nil, unavailable(err)
	}
	for _, k := range keys {
		if d, ok := found[k]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// StateQueue is the delivery queue in the Dapr state store (Redis): one key per second of due time
// (webhook-queue:<unix second>) holding the ids due then, a cursor naming the last second drained,
// and a lease so that one replica drains at a time. A crash while draining leaves the second and the
// cursor as they were, so its ids are attempted again: delivery is at least once.
type StateQueue struct {
	state
	// Owner names this replica in the lease.
	Owner string
	// Lease is how long a drainer holds the queue without renewing; it renews every third of it
	// while it drains, and stops draining when a renewal fails.
	Lease time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (q *StateQueue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// NewStateQueue returns the queue; owner must be unique per replica.
func NewStateQueue(c dapr.Client, store, owner string) *StateQueue {
	return &StateQueue{state: state{c, store}, Owner: owner, Lease: 10 * time.Second}
}

const (
	queueCursorKey = "webhook-queue-cursor"
	queueLeaseKey  = "webhook-queue-lease"
	// firstLookBack is how far back a queue that never ran starts.
	firstLookBack = 60
)

var errLeaseLost = errors.New("webhook queue: the drain lease passed to another replica")

func secondKey(s int64) string { return "webhook-queue:" + strconv.FormatInt(s, 10) }

// Schedule puts id in the second it is due, and never in the current one or earlier: the drainer
// may have finished those already.
func (q *StateQueue) Schedule(ctx context.Context, id string, due time.Time) error {
	sec := max(due.Unix(), q.now().Unix()+1)
	_, err := update(ctx, q.state, secondKey(sec), func(ids *[]string, _ bool) error {
		if !slices.Contains(*ids, id) {
			*ids = append(*ids, id)
		}
		return nil
	})
	return err
}

// lease takes or renews the drain lease; false when another replica holds it.
func (q *StateQueue) lease(ctx context.Context) (bool, error) {
	var owner string
	exists, etag, err := q.get(ctx, queueLeaseKey, &owner)
	if err != nil {
		return false, err
	}
	if exists && owner != q.Owner {
		return false, nil
	}
	return q.put(ctx, queueLeaseKey, q.Owner, etag, q.Lease)
}

// Drain hands out every second from the cursor up to now, in order, if this replica holds the lease.
func (q *StateQueue) Drain(ctx context.Context, now time.Time, take func(context.Context, []string) error) error {
	held, err := q.lease(ctx)
	if err != nil || !held {
		return err
	}
	// The lease is renewed while the drain lasts (sends may take long); a replica that cannot renew
	// it stops, since another may take over.
	ctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	defer func() { cancel(nil); <-renewed }()
	go func() {
		defer close(renewed)
		t := time.NewTicker(max(q.Lease/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ok, err := q.lease(ctx); err != nil || !ok {
				cancel(errors.Join(errLeaseLost, err))
				return
			}
		}
	}()
	var cursor int64
	exists, _, err := q.get(ctx, queueCursorKey, &cursor)
	if err != nil {
		return err
	}
	if !exists {
		cursor = now.Unix() - firstLookBack
	}
	last := now.Unix()
	for from := cursor + 1; from <= last; from += 100 {
		to := min(from+99, last)
		keys := make([]string, 0, to-from+1)
		for s := from; s <= to; s++ {
			keys = append(keys, secondKey(s))
		}
		due, err := daprstate.New[[]string](q.Client, q.Store).GetMany(ctx, keys)
		if err != nil {
			return unavailable(err)
		}
		for s := from; s <= to; s++ {
			ids := due[secondKey(s)]
			if len(ids) == 0 {
				continue
			}
			if err := take(ctx, ids); err != nil {
				return q.saveCursor(ctx, s-1, err)
			}
			if err := daprstate.New[[]string](q.Client, q.Store).Delete(ctx, secondKey(s)); err != nil {
				return q.saveCursor(ctx, s-1, unavailable(err))
			}
		}
		if err := q.saveCursor(ctx, to, nil); err != nil {
			return err
		}
	}
	return nil
}

func (q *StateQueue) saveCursor(ctx context.Context, at int64, cause error) error {
	if _, err := updateWith(ctx, q.state, queueCursorKey, 0, func(c *int64, _ bool) error { *c = at; return nil }); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}
