package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	"github.com/acme/platform/services/notifications/internal/domain/webhook"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// The entities and their rules are the domain's (domain/webhook); these names keep the app's
// callers and adapters as they were.
type (
	Webhook  = webhook.Webhook
	Delivery = webhook.Delivery
	Attempt  = webhook.Attempt
)

// Delivery kinds and statuses.
const (
	KindWebhook      = webhook.KindWebhook
	KindSlack        = webhook.KindSlack
	Pending          = webhook.Pending
	Succeeded        = webhook.Succeeded
	GaveUp           = webhook.GaveUp
	EndpointDisabled = webhook.EndpointDisabled
	Cancelled        = webhook.Cancelled
)

// WebhookStore keeps endpoints.
type WebhookStore interface {
	Create(ctx context.Context, w Webhook) error
	Get(ctx context.Context, id string) (Webhook, bool, error)
	// Update applies change to the current record (retrying on concurrent writers).
	Update(ctx context.Context, id string, change func(*Webhook) error) (Webhook, error)
	Delete(ctx context.Context, w Webhook) error
	ForProject(ctx context.Context, projectID string) ([]Webhook, error)
}

// DeliveryStore keeps deliveries and each endpoint's recent ones.
type DeliveryStore interface {
	// Create stores d unless a delivery with its id exists; it reports whether it created it.
	Create(ctx context.Context, d Delivery) (bool, error)
	Get(ctx context.Context, id string) (Delivery, bool, error)
	// Update applies change to the stored delivery atomically (retrying on concurrent writers);
	// ErrNoDelivery when there is none. An error from change writes nothing.
	Update(ctx context.Context, id string, change func(*Delivery) error) (Delivery, error)
	// Recent lists the newest deliveries to an endpoint (a webhook id, or slack:<project>).
	Recent(ctx context.Context, endpoint string) ([]Delivery, error)
}

// Queue holds delivery ids until they are due.
type Queue interface {
	Schedule(ctx context.Context, id string, due time.Time) error
}

// Sender makes one HTTP attempt.
type Sender interface {
	// Send posts body to url, signed with secret when it is set, and returns the answer's status.
	Send(ctx context.Context, url, secret, deliveryID, eventType string, body []byte) (status int, err error)
	// Allowed checks a target URL before it is stored: scheme, and an address that is not private.
	Allowed(ctx context.Context, rawURL string) error
}

// Projects answers questions about projects.
type Projects interface {
	// Role is the caller's role in the project ("" for none); NotFound when the caller may not see it.
	Role(ctx context.Context, c caller.Caller, projectID string) (string, error)
	// SlackURL is the project's Slack incoming webhook when its settings turn Slack on.
	SlackURL(ctx context.Context, projectID string) (string, error)
}

// Webhooks is the outgoing-HTTP half of notifications: customer webhooks and Slack messages.
type Webhooks struct {
	Hooks      WebhookStore
	Deliveries DeliveryStore
	Queue      Queue
	Sender     Sender
	Projects   Projects
	Now        func() time.Time
	// RetryBase is the first retry's delay; each next one doubles, up to RetryMax, with jitter.
	RetryBase, RetryMax time.Duration
	// GiveUpAfter ends retries this long after the event (24 h).
	GiveUpAfter time.Duration
	// DisableAfter failed attempts in a row disable an endpoint.
	DisableAfter int
	// SlackBase, when set, replaces https://hooks.slack.com in Slack URLs (a stand-in for tests).
	SlackBase string
	// Replica names this process in delivery claims; unique per replica.
	Replica string
	// ClaimFor bounds one attempt: the send timeout and then some. A claim older than that (its
	// replica died mid-attempt) is taken over.
	ClaimFor time.Duration
	// Attempts counts attempts by kind and outcome (succeeded, failed); Latency records how long
	// each took. Either may be nil.
	Attempts metric.Int64Counter
	Latency  metric.Float64Histogram
}

// EventTypes a webhook may subscribe to.
var EventTypes = []string{"project.updated", "project.archived", "project.restored", "project.deleted",
	"project.member_added", "project.member_role_changed", "project.member_removed"}

func (w *Webhooks) requireAdmin(ctx context.Context, c caller.Caller, projectID string) error {
	role, err := w.Projects.Role(ctx, c, projectID)
	if err != nil {
		return err
	}
	if role != "admin" && role != "owner" {
		return errs.PermissionDenied("webhook.forbidden", "only the project's admins and owners manage its webhooks")
	}
	return nil
}

// Create registers an endpoint after checking the caller's role, the URL's target and the types.
func (w *Webhooks) Create(ctx context.Context, c caller.Caller, projectID, rawURL string, types []string, secret string) (Webhook, error) {
	if err := w.requireAdmin(ctx, c, projectID); err != nil {
		return Webhook{}, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || len(rawURL) > 2000 || u.User != nil {
		return Webhook{}, errs.Invalid("webhook.url_invalid", "url", "url must be an absolute http(s) URL without credentials, at most 2000 characters")
	}
	if err := w.Sender.Allowed(ctx, rawURL); err != nil {
		return Webhook{}, err
	}
	if len(types) == 0 || len(types) > len(EventTypes) {
		return Webhook{}, errs.Invalid("webhook.event_types_invalid", "event_types", "list 1 to 7 event types, or \"*\"")
	}
	for _, t := range types {
		if t != "*" && !slices.Contains(EventTypes, t) {
			return Webhook{}, errs.Invalid("webhook.event_types_invalid", "event_types", "event types must be \"*\" or among "+strings.Join(EventTypes, ", "))
		}
	}
	switch {
	case secret == "":
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	case len(secret) < 16 || len(secret) > 128:
		return Webhook{}, errs.Invalid("webhook.secret_invalid", "secret", "secret must be 16 to 128 characters")
	}
	hook := Webhook{ID: uuid.NewString(), ProjectID: projectID, URL: rawURL, EventTypes: slices.Compact(slices.Sorted(slices.Values(types))),
		Secret: secret, Enabled: true, CreatedAt: w.Now().UTC(), CreatedBy: c.UserID}
	existing, err := w.Hooks.ForProject(ctx, projectID)
	if err != nil {
		return Webhook{}, err
	}
	if len(existing) >= 10 {
		return Webhook{}, errs.Conflict("webhook.limit_reached", "a project has at most 10 webhooks")
	}
	return hook, w.Hooks.Create(ctx, hook)
}

// List returns the project's endpoints.
func (w *Webhooks) List(ctx context.Context, c caller.Caller, projectID string) ([]Webhook, error) {
	if err := w.requireAdmin(ctx, c, projectID); err != nil {
		return nil, err
	}
	return w.Hooks.ForProject(ctx, projectID)
}

func (w *Webhooks) owned(ctx context.Context, c caller.Caller, projectID, id string) (Webhook, error) {
	if err := w.requireAdmin(ctx, c, projectID); err != nil {
		return Webhook{}, err
	}
	hook, ok, err := w.Hooks.Get(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	if !ok || hook.ProjectID != projectID {
		return Webhook{}, errs.NotFound("webhook.not_found", "no such webhook in this project")
	}
	return hook, nil
}

// Delete removes an endpoint; its pending deliveries end as cancelled when they come due.
func (w *Webhooks) Delete(ctx context.Context, c caller.Caller, projectID, id string) error {
	hook, err := w.owned(ctx, c, projectID, id)
	if err != nil {
		return err
	}
	return w.Hooks.Delete(ctx, hook)
}

// Enable turns an endpoint back on.
func (w *Webhooks) Enable(ctx context.Context, c caller.Caller, projectID, id string) (Webhook, error) {
	if _, err := w.owned(ctx, c, projectID, id); err != nil {
		return Webhook{}, err
	}
	return w.Hooks.Update(ctx, id, func(h *Webhook) error {
		h.Enabled, h.ConsecutiveFailures, h.DisabledAt, h.DisabledReason = true, 0, time.Time{}, ""
		h.CreatedBy = c.UserID // whoever enables it answers for it from now on
		return nil
	})
}

// managesWebhooks are the project roles that may manage webhooks (requireAdmin's).
var managesWebhooks = map[string]bool{"owner": true, "admin": true}

// RevokeCreator disables the project's endpoints that userID answers for, when a membership event
// says they no longer hold a role that manages webhooks (removed, erased, or demoted): a private
// project's events must not keep flowing to an endpoint of someone who lost the right to see them.
func (w *Webhooks) RevokeCreator(ctx context.Context, e events.Envelope) error {
	m, ok := e.Payload.(events.MemberChanged)
	if !ok || (e.Type != "project.member_removed" && e.Type != "project.member_role_changed") || managesWebhooks[m.Role] {
		return nil
	}
	hooks, err := w.Hooks.ForProject(ctx, m.ProjectID)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.CreatedBy != m.UserID || !h.Enabled {
			continue
		}
		if _, err := w.Hooks.Update(ctx, h.ID, func(h *Webhook) error {
			h.Orphan(w.Now().UTC())
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// Deliveries lists an endpoint's recent deliveries.
func (w *Webhooks) DeliveriesOf(ctx context.Context, c caller.Caller, projectID, id string) ([]Delivery, error) {
	if _, err := w.owned(ctx, c, projectID, id); err != nil {
		return nil, err
	}
	return w.Deliveries.Recent(ctx, id)
}

// deliveryID is stable per event and endpoint, so a redelivered event schedules nothing new.
func deliveryID(eventID, endpoint string) string {
	sum := sha256.Sum256([]byte(eventID + "|" + endpoint))
	return hex.EncodeToString(sum[:16])
}

// Fanout turns one project event into deliveries: one per enabled webhook that wants its type,
// and a Slack message when the project's settings turn Slack on.
func (w *Webhooks) Fanout(ctx context.Context, e events.Envelope) error {
	projectID := e.Subject
	body, err := eventJSON(e)
	if err != nil {
		return err
	}
	hooks, err := w.Hooks.ForProject(ctx, projectID)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if !h.Receives(e.Type, e.OccurredAt) {
			continue
		}
		d := Delivery{ID: deliveryID(e.EventID, h.ID), Kind: KindWebhook, WebhookID: h.ID, ProjectID: projectID,
			EventID: e.EventID, EventType: e.Type, Body: body}
		if err := w.enqueue(ctx, d); err != nil {
			return err
		}
	}
	if e.Type == "project.deleted" {
		return nil // nothing left to read the settings of
	}
	slack, err := w.Projects.SlackURL(ctx, projectID)
	if err != nil || slack == "" {
		return err
	}
	text, err := slackJSON(e)
	if err != nil {
		return err
	}
	return w.enqueue(ctx, Delivery{ID: deliveryID(e.EventID, "slack"), Kind: KindSlack, WebhookID: "slack:" + projectID,
		URL: slack, ProjectID: projectID, EventID: e.EventID, EventType: e.Type, Body: text})
}

func (w *Webhooks) enqueue(ctx context.Context, d Delivery) error {
	now := w.Now().UTC()
	d.Status, d.CreatedAt, d.NextAt, d.Attempts = Pending, now, now, []Attempt{}
	created, err := w.Deliveries.Create(ctx, d)
	if err != nil {
		return err
	}
	if !created {
		// A redelivered event: schedule again only if it never got its first attempt (a crash
		// between storing and scheduling); the attempt itself ignores what is no longer due.
		have, ok, err := w.Deliveries.Get(ctx, d.ID)
		if err != nil || !ok || have.Status != Pending || len(have.Attempts) > 0 {
			return err
		}
	}
	return w.Queue.Schedule(ctx, d.ID, now)
}

// Backoff is the delay before retry n (1-based): RetryBase·2^(n-1), at most RetryMax, of which a
// random half is jitter so that retries of many deliveries spread out.
func (w *Webhooks) Backoff(n int) time.Duration {
	d := float64(w.RetryBase) * math.Pow(2, float64(n-1))
	if d > float64(w.RetryMax) || math.IsInf(d, 0) {
		d = float64(w.RetryMax)
	}
	return time.Duration(d/2 + mrand.Float64()*d/2)
}

// ErrNoDelivery is what DeliveryStore.Update answers for an id it does not hold.
var ErrNoDelivery = errors.New("no such delivery")

// Attempt makes the next try of a delivery that came due and records it: success, a retry
// scheduled, or the end (24 h passed, endpoint disabled, endpoint deleted). The delivery is claimed
// first, so of replicas that drain the same due time one attempts it and the others put it back
// for when the claim lapses; the outcome is written only by the claim's holder.
func (w *Webhooks) Attempt(ctx context.Context, id string) error {
	now := w.Now().UTC()
	d, err := w.Deliveries.Update(ctx, id, func(d *Delivery) error { return d.Claim(w.Replica, now, now.Add(w.claimFor())) })
	var claimed webhook.ClaimedError
	switch {
	case errors.Is(err, webhook.ErrNotDue), errors.Is(err, ErrNoDelivery):
		return nil
	case errors.As(err, &claimed):
		return w.Queue.Schedule(ctx, id, claimed.Until.Add(time.Second))
	case err != nil:
		return err
	}
	target, secret := d.URL, ""
	var hook Webhook
	if d.Kind == KindWebhook {
		h, ok, err := w.Hooks.Get(ctx, d.WebhookID)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			d.Status = Cancelled
			return w.finish(ctx, d)
		case !h.Enabled:
			d.Status = EndpointDisabled
			return w.finish(ctx, d)
		}
		hook, target, secret = h, h.URL, h.Secret
	} else if w.SlackBase != "" {
		target = strings.Replace(target, "https://hooks.slack.com", w.SlackBase, 1)
	}
	start := time.Now()
	code, sendErr := w.Sender.Send(ctx, target, secret, d.ID, d.EventType, d.Body)
	a := Attempt{N: len(d.Attempts) + 1, At: now, StatusCode: code, LatencyMS: time.Since(start).Milliseconds()}
	ok := sendErr == nil && code >= 200 && code < 300
	if sendErr != nil {
		a.Error = sendErr.Error()
	} else if !ok {
		a.Error = "the receiver answered " + strconv.Itoa(code)
	}
	w.record(ctx, d.Kind, ok, time.Since(start))
	enabled := true
	if d.Kind == KindWebhook {
		if hook, err = w.Hooks.Update(ctx, hook.ID, func(h *Webhook) error {
			h.RecordOutcome(ok, now, w.DisableAfter, a.Error)
			return nil
		}); err != nil {
			return err
		}
		enabled = hook.Enabled
	}
	next := now.Add(w.Backoff(len(d.Attempts) + 1))
	if !d.Record(a, ok, enabled, next, d.CreatedAt.Add(w.GiveUpAfter)) {
		return w.finish(ctx, d)
	}
	if err := w.finish(ctx, d); err != nil {
		return err
	}
	return w.Queue.Schedule(ctx, d.ID, next)
}

// errClaimLost: the attempt outlived its claim and another replica took the delivery over; its
// outcome is not written over the newer one.
var errClaimLost = errors.New("the delivery's claim passed to another replica")

// finish writes the attempt's outcome and releases the claim, if this replica still holds it.
func (w *Webhooks) finish(ctx context.Context, d Delivery) error {
	_, err := w.Deliveries.Update(ctx, d.ID, func(cur *Delivery) error {
		if cur.ClaimedBy != w.Replica {
			return errClaimLost
		}
		*cur = d
		cur.Release()
		return nil
	})
	return err
}

func (w *Webhooks) claimFor() time.Duration {
	if w.ClaimFor > 0 {
		return w.ClaimFor
	}
	return time.Minute
}

func (w *Webhooks) record(ctx context.Context, kind string, ok bool, took time.Duration) {
	outcome := "failed"
	if ok {
		outcome = "succeeded"
	}
	attrs := metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", outcome))
	if w.Attempts != nil {
		w.Attempts.Add(ctx, 1, attrs)
	}
	if w.Latency != nil {
		w.Latency.Record(ctx, took.Seconds(), attrs)
	}
}

// DueQueue is a Queue that hands out what came due.
type DueQueue interface {
	Queue
	// Drain calls take with the ids due by now, oldest first, and forgets them once take returned
	// nil. Only one replica drains at a time; the others return at once.
	Drain(ctx context.Context, now time.Time, take func(ctx context.Context, ids []string) error) error
}

// Dispatch drains the queue every interval until ctx ends, attempting due deliveries, at most
// parallel at once.
func (w *Webhooks) Dispatch(ctx context.Context, q DueQueue, interval time.Duration, parallel int, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := q.Drain(ctx, w.Now(), func(ctx context.Context, ids []string) error {
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(parallel)
			for _, id := range ids {
				g.Go(func() error {
					// An attempt that has begun ends and writes its outcome even if the drain stops
					// (the app stopping, or the queue's lease passing to another replica): its claim
					// keeps the other replicas off it meanwhile.
					err := w.Attempt(context.WithoutCancel(gctx), id)
					if err == nil {
						return nil
					}
					// One delivery that cannot be handled now must not hold up the others: it is
					// put back for later, and only a queue that cannot take it stops the drain.
					log.WarnContext(gctx, "webhook delivery attempt failed, rescheduled", "delivery", id, "error", err)
					return q.Schedule(gctx, id, w.Now().Add(w.RetryBase))
				})
			}
			return g.Wait()
		})
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "webhook queue: will retry", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
