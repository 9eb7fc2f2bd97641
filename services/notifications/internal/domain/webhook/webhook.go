// Package webhook holds the outgoing-HTTP entities of notifications (a customer's endpoint, a
// delivery on its way to it, each attempt) and their rules: who may attempt a delivery when, how an
// attempt's outcome moves the delivery on (succeeded, retried, given up, stopped by a disabled
// endpoint) and when an endpoint is disabled. No I/O: the app reads and writes them.
package webhook

import (
	"errors"
	"slices"
	"strconv"
	"time"
)

// Webhook is a customer's endpoint for one project's events.
type Webhook struct {
	ID                  string    `json:"id"`
	ProjectID           string    `json:"project_id"`
	URL                 string    `json:"url"`
	EventTypes          []string  `json:"event_types"`
	Secret              string    `json:"secret"`
	Enabled             bool      `json:"enabled"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	CreatedAt           time.Time `json:"created_at"`
	// CreatedBy is the admin who answers for the endpoint: who created it, or last enabled it.
	// When they lose the right to manage the project's webhooks, the endpoint is disabled.
	CreatedBy      string    `json:"created_by,omitempty"`
	DisabledAt     time.Time `json:"disabled_at"`
	DisabledReason string    `json:"disabled_reason"`
}

// Wants reports whether the endpoint subscribed to the event type.
func (w Webhook) Wants(eventType string) bool {
	return slices.Contains(w.EventTypes, "*") || slices.Contains(w.EventTypes, eventType)
}

// Orphan disables the endpoint because whoever answers for it lost the right to manage webhooks.
// It reports whether anything changed.
func (w *Webhook) Orphan(now time.Time) bool {
	if !w.Enabled {
		return false
	}
	w.Enabled, w.DisabledAt = false, now
	w.DisabledReason = "the admin who set it up is no longer an admin of the project"
	return true
}

// Receives reports whether an event of eventType that occurred at occurredAt goes to the endpoint:
// it is enabled, subscribed to the type, and existed when the event happened. (An event is consumed
// some milliseconds after it happened; an endpoint created in between did not subscribe to it.)
func (w Webhook) Receives(eventType string, occurredAt time.Time) bool {
	return w.Enabled && w.Wants(eventType) && !occurredAt.Before(w.CreatedAt)
}

// Delivery kinds: a customer webhook (signed) or a project's Slack incoming webhook.
const (
	KindWebhook = "webhook"
	KindSlack   = "slack"
)

// Delivery statuses.
const (
	Pending          = "pending"
	Succeeded        = "succeeded"
	GaveUp           = "gave_up"
	EndpointDisabled = "endpoint_disabled"
	Cancelled        = "cancelled"
)

// Attempt is one try of a delivery.
type Attempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	LatencyMS  int64     `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	WebhookID string `json:"webhook_id,omitempty"`
	// URL is the Slack URL (a webhook's URL is read from the webhook at each attempt).
	URL       string    `json:"url,omitempty"`
	ProjectID string    `json:"project_id"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Body      []byte    `json:"body"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	NextAt    time.Time `json:"next_at"`
	Attempts  []Attempt `json:"attempts"`
	// ClaimedBy is the replica making the current attempt, until ClaimedUntil: one attempt per due
	// time, however many replicas drain the queue.
	ClaimedBy    string    `json:"claimed_by,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
}

// ErrNotDue: the delivery has nothing to attempt now (it ended, or this is a duplicate queue entry
// and its real one comes later).
var ErrNotDue = errors.New("delivery not due")

// ClaimedError: another replica is attempting the delivery until Until.
type ClaimedError struct{ Until time.Time }

func (e ClaimedError) Error() string { return "delivery claimed until " + e.Until.String() }

// Claim lets replica attempt the delivery now, until until: if it is pending and due (a second's
// slack for the queue's granularity), and no other replica holds a claim that has not lapsed.
func (d *Delivery) Claim(replica string, now, until time.Time) error {
	switch {
	case d.Status != Pending, d.NextAt.After(now.Add(time.Second)):
		return ErrNotDue
	case d.ClaimedBy != "" && d.ClaimedBy != replica && d.ClaimedUntil.After(now):
		return ClaimedError{d.ClaimedUntil}
	}
	d.ClaimedBy, d.ClaimedUntil = replica, until
	return nil
}

// Release ends the claim (the outcome is written).
func (d *Delivery) Release() { d.ClaimedBy, d.ClaimedUntil = "", time.Time{} }

// Record moves the delivery on after attempt a: succeeded when ok; otherwise stopped when the
// endpoint is disabled, given up when the next try (at next) would fall after giveUpAt, or pending
// again until next. It reports whether the delivery is to be tried again.
func (d *Delivery) Record(a Attempt, ok, endpointEnabled bool, next, giveUpAt time.Time) (retry bool) {
	d.Attempts = append(d.Attempts, a)
	switch {
	case ok:
		d.Status = Succeeded
	case !endpointEnabled:
		d.Status = EndpointDisabled
	case next.After(giveUpAt):
		d.Status = GaveUp
	default:
		d.NextAt = next
		return true
	}
	return false
}

// RecordOutcome counts an attempt against the endpoint: a success clears the run of failures; the
// failure that makes the run disableAfter long (0: never) disables it, with reason.
func (h *Webhook) RecordOutcome(ok bool, now time.Time, disableAfter int, lastError string) {
	if ok {
		h.ConsecutiveFailures = 0
		return
	}
	h.ConsecutiveFailures++
	if h.Enabled && disableAfter > 0 && h.ConsecutiveFailures >= disableAfter {
		h.Enabled, h.DisabledAt = false, now
		h.DisabledReason = strconv.Itoa(h.ConsecutiveFailures) + " failed attempts in a row; last: " + lastError
	}
}
