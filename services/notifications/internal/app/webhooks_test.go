package app

import (
	"context"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/events"
)

func TestBackoff_DoublesWithJitterUpToTheCap(t *testing.T) {
	w := &Webhooks{RetryBase: 10 * time.Second, RetryMax: time.Hour}
	for n := 1; n <= 30; n++ {
		full := min(10*time.Second<<(n-1), time.Hour)
		if n > 20 {
			full = time.Hour
		}
		for range 50 {
			d := w.Backoff(n)
			if d < full/2 || d > full {
				t.Fatalf("retry %d: %v outside [%v, %v]", n, d, full/2, full)
			}
		}
	}
	// Until the 24 hours run out, the schedule makes some twenty-odd attempts.
	w.GiveUpAfter = 24 * time.Hour
	var at time.Duration
	n := 0
	for at < w.GiveUpAfter {
		n++
		at += w.Backoff(n)
	}
	if n < 20 || n > 45 {
		t.Errorf("%d attempts in 24h", n)
	}
}

func TestWants_StarMeansEveryType(t *testing.T) {
	if !(Webhook{EventTypes: []string{"*"}}).Wants("project.updated") {
		t.Error("* does not match")
	}
	w := Webhook{EventTypes: []string{"project.member_added"}}
	if w.Wants("project.updated") || !w.Wants("project.member_added") {
		t.Error("a listed type is the only one delivered")
	}
}

// In-memory stand-ins for the Dapr state store and the network, for the attempt rules alone; the
// e2e suite runs the real ones.
type memHooks map[string]Webhook

func (m memHooks) Create(_ context.Context, w Webhook) error { m[w.ID] = w; return nil }
func (m memHooks) Get(_ context.Context, id string) (Webhook, bool, error) {
	w, ok := m[id]
	return w, ok, nil
}
func (m memHooks) Update(_ context.Context, id string, change func(*Webhook) error) (Webhook, error) {
	w := m[id]
	err := change(&w)
	m[id] = w
	return w, err
}
func (m memHooks) Delete(_ context.Context, w Webhook) error { delete(m, w.ID); return nil }
func (m memHooks) ForProject(context.Context, string) ([]Webhook, error) {
	var out []Webhook
	for _, w := range m {
		out = append(out, w)
	}
	return out, nil
}

type memDeliveries map[string]Delivery

func (m memDeliveries) Create(_ context.Context, d Delivery) (bool, error) {
	if _, ok := m[d.ID]; ok {
		return false, nil
	}
	m[d.ID] = d
	return true, nil
}
func (m memDeliveries) Get(_ context.Context, id string) (Delivery, bool, error) {
	d, ok := m[id]
	return d, ok, nil
}
func (m memDeliveries) Update(_ context.Context, id string, change func(*Delivery) error) (Delivery, error) {
	d, ok := m[id]
	if !ok {
		return d, ErrNoDelivery
	}
	if err := change(&d); err != nil {
		return d, err
	}
	m[id] = d
	return d, nil
}
func (m memDeliveries) Recent(context.Context, string) ([]Delivery, error) { return nil, nil }

type memQueue []string

func (q *memQueue) Schedule(_ context.Context, id string, _ time.Time) error {
	*q = append(*q, id)
	return nil
}

type statusSender struct{ status int }

func (s statusSender) Send(context.Context, string, string, string, string, []byte) (int, error) {
	return s.status, nil
}
func (statusSender) Allowed(context.Context, string) error { return nil }

func newWebhooks(status int, now time.Time) (*Webhooks, memHooks, memDeliveries, *memQueue) {
	hooks, deliveries, q := memHooks{}, memDeliveries{}, &memQueue{}
	return &Webhooks{Hooks: hooks, Deliveries: deliveries, Queue: q, Sender: statusSender{status}, Now: func() time.Time { return now },
		RetryBase: time.Second, RetryMax: time.Hour, GiveUpAfter: 24 * time.Hour, DisableAfter: 5}, hooks, deliveries, q
}

func TestAttempt_EndsEachWayItShould(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	cases := []struct {
		name       string
		status     int
		created    time.Time
		failures   int
		noHook     bool
		wantStatus string
		requeued   bool
		wantFails  int
	}{
		{"a 2xx succeeds and clears the failure count", 204, now, 3, false, Succeeded, false, 0},
		{"a failure inside 24 h is retried", 503, now.Add(-time.Hour), 0, false, Pending, true, 1},
		{"a failure after 24 h gives up", 500, now.Add(-24 * time.Hour), 0, false, GaveUp, false, 1},
		{"the failure that completes the run disables the endpoint", 500, now, 4, false, EndpointDisabled, false, 5},
		{"a deleted endpoint cancels the delivery", 200, now, 0, true, Cancelled, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, hooks, deliveries, q := newWebhooks(tc.status, now)
			if !tc.noHook {
				hooks["h"] = Webhook{ID: "h", URL: "https://example.com", Secret: "s", Enabled: true, ConsecutiveFailures: tc.failures}
			}
			deliveries["d"] = Delivery{ID: "d", Kind: KindWebhook, WebhookID: "h", Status: Pending, CreatedAt: tc.created, NextAt: now}
			if err := w.Attempt(ctx, "d"); err != nil {
				t.Fatal(err)
			}
			d := deliveries["d"]
			if d.Status != tc.wantStatus || (len(*q) == 1) != tc.requeued {
				t.Errorf("status %s, requeued %v; want %s, %v", d.Status, len(*q) == 1, tc.wantStatus, tc.requeued)
			}
			if !tc.noHook && hooks["h"].ConsecutiveFailures != tc.wantFails {
				t.Errorf("failures %d, want %d", hooks["h"].ConsecutiveFailures, tc.wantFails)
			}
			if tc.requeued && !d.NextAt.After(now) {
				t.Errorf("next attempt %v is not later", d.NextAt)
			}
		})
	}
}

func TestFanout_SchedulesEachEventOncePerEndpoint(t *testing.T) {
	now := time.Now()
	w, hooks, deliveries, q := newWebhooks(200, now)
	w.Projects = noSlack{}
	hooks["a"] = Webhook{ID: "a", Enabled: true, EventTypes: []string{"*"}}
	hooks["b"] = Webhook{ID: "b", Enabled: true, EventTypes: []string{"project.deleted"}}
	hooks["c"] = Webhook{ID: "c", Enabled: false, EventTypes: []string{"*"}}
	e := events.Envelope{EventID: "e1", Type: "project.updated", Subject: "p", Payload: events.ProjectUpdated{ProjectID: "p", Name: "N"}}
	for range 2 { // redelivered
		if err := w.Fanout(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if len(deliveries) != 1 || len(*q) != 2 {
		t.Errorf("%d deliveries, %d queue entries; want 1 (to a only) and 2 (a redelivery before the first attempt schedules again)", len(deliveries), len(*q))
	}
}

type noSlack struct{}

func (noSlack) Role(context.Context, caller.Caller, string) (string, error) { return "owner", nil }
func (noSlack) SlackURL(context.Context, string) (string, error)            { return "", nil }

// A delivery another replica is attempting is left to it and put back for when its claim lapses;
// a lapsed claim (its replica died mid-attempt) is taken over.
func TestAttempt_RespectsAnotherReplicasClaim(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		until    time.Time
		wantSent bool
	}{
		{"a live claim", now.Add(30 * time.Second), false},
		{"a lapsed claim", now.Add(-time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _, deliveries, q := newWebhooks(200, now)
			sent := 0
			w.Sender = countingSender{&sent}
			w.Replica = "b"
			deliveries["d"] = Delivery{ID: "d", Kind: KindSlack, URL: "https://hooks.slack.com/x", Status: Pending, CreatedAt: now,
				NextAt: now, ClaimedBy: "a", ClaimedUntil: tc.until}
			if err := w.Attempt(ctx, "d"); err != nil {
				t.Fatal(err)
			}
			d := deliveries["d"]
			if (sent == 1) != tc.wantSent {
				t.Fatalf("sent %d times", sent)
			}
			if tc.wantSent && (d.Status != Succeeded || d.ClaimedBy != "" || len(d.Attempts) != 1) {
				t.Fatalf("after taking over: %+v", d)
			}
			if !tc.wantSent && (d.Status != Pending || d.ClaimedBy != "a" || len(*q) != 1) {
				t.Fatalf("a live claim was not respected: %+v, queue %v", d, *q)
			}
		})
	}
}

// An attempt whose claim passed to another replica meanwhile does not write over the newer outcome.
func TestAttempt_DoesNotWriteOverATakenOverDelivery(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w, _, deliveries, _ := newWebhooks(200, now)
	w.Replica = "a"
	deliveries["d"] = Delivery{ID: "d", Kind: KindSlack, URL: "https://hooks.slack.com/x", Status: Pending, CreatedAt: now, NextAt: now}
	w.Sender = hookSender{func() {
		d := deliveries["d"] // while a sends, b takes the delivery over and finishes it
		d.ClaimedBy, d.Status = "b", Succeeded
		d.Attempts = append(d.Attempts, Attempt{N: 1, StatusCode: 204})
		deliveries["d"] = d
	}}
	if err := w.Attempt(context.Background(), "d"); err == nil {
		t.Fatal("a lost claim went unnoticed")
	}
	if d := deliveries["d"]; d.ClaimedBy != "b" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 204 {
		t.Fatalf("the newer outcome was overwritten: %+v", d)
	}
}

type countingSender struct{ n *int }

func (s countingSender) Send(context.Context, string, string, string, string, []byte) (int, error) {
	*s.n++
	return 200, nil
}
func (countingSender) Allowed(context.Context, string) error { return nil }

type hookSender struct{ during func() }

func (s hookSender) Send(context.Context, string, string, string, string, []byte) (int, error) {
	s.during()
	return 200, nil
}
func (hookSender) Allowed(context.Context, string) error { return nil }

// Issue 11, item 11: an endpoint stops when the admin who answers for it is removed or demoted
// below admin; others' endpoints, and a promotion, change nothing.
func TestRevokeCreator_DisablesTheEndpointsOfWhoeverLostTheRight(t *testing.T) {
	now := time.Now()
	w, hooks, _, _ := newWebhooks(200, now)
	hooks["a"] = Webhook{ID: "a", ProjectID: "p", Enabled: true, CreatedBy: "ada", EventTypes: []string{"*"}}
	hooks["b"] = Webhook{ID: "b", ProjectID: "p", Enabled: true, CreatedBy: "bob", EventTypes: []string{"*"}}
	ctx := context.Background()
	for _, e := range []events.Envelope{
		{Type: "project.member_role_changed", Payload: events.MemberChanged{ProjectID: "p", UserID: "ada", Role: "owner"}},
		{Type: "project.member_added", Payload: events.MemberChanged{ProjectID: "p", UserID: "ada", Role: "viewer"}},
	} {
		if err := w.RevokeCreator(ctx, e); err != nil || !hooks["a"].Enabled {
			t.Fatalf("%s disabled the endpoint: %v", e.Type, err)
		}
	}
	if err := w.RevokeCreator(ctx, events.Envelope{Type: "project.member_role_changed",
		Payload: events.MemberChanged{ProjectID: "p", UserID: "ada", Role: "editor"}}); err != nil {
		t.Fatal(err)
	}
	if hooks["a"].Enabled || hooks["a"].DisabledReason == "" || !hooks["b"].Enabled {
		t.Fatalf("a: %+v, b: %+v", hooks["a"], hooks["b"])
	}
	if err := w.RevokeCreator(ctx, events.Envelope{Type: "project.member_removed",
		Payload: events.MemberChanged{ProjectID: "p", UserID: "bob"}}); err != nil || hooks["b"].Enabled {
		t.Fatalf("a removed member's endpoint: %+v %v", hooks["b"], err)
	}
}
