package webhook

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestClaim_OneReplicaPerDueTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Delivery
		want error
	}{
		{"pending and due", Delivery{Status: Pending, NextAt: t0}, nil},
		{"due within the queue's second", Delivery{Status: Pending, NextAt: t0.Add(900 * time.Millisecond)}, nil},
		{"due later: a duplicate queue entry", Delivery{Status: Pending, NextAt: t0.Add(5 * time.Second)}, ErrNotDue},
		{"ended", Delivery{Status: Succeeded, NextAt: t0}, ErrNotDue},
		{"claimed by another", Delivery{Status: Pending, NextAt: t0, ClaimedBy: "b", ClaimedUntil: t0.Add(time.Minute)}, ClaimedError{t0.Add(time.Minute)}},
		{"a lapsed claim of another", Delivery{Status: Pending, NextAt: t0, ClaimedBy: "b", ClaimedUntil: t0.Add(-time.Second)}, nil},
		{"its own claim again", Delivery{Status: Pending, NextAt: t0, ClaimedBy: "a", ClaimedUntil: t0.Add(time.Minute)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			err := d.Claim("a", t0, t0.Add(time.Minute))
			if !errors.Is(err, tc.want) && err != tc.want {
				t.Fatalf("claim: %v, want %v", err, tc.want)
			}
			if (err == nil) != (d.ClaimedBy == "a" && d.ClaimedUntil.Equal(t0.Add(time.Minute))) {
				t.Fatalf("claim %v left %q until %v", err, d.ClaimedBy, d.ClaimedUntil)
			}
		})
	}
}

func TestRecord_MovesTheDeliveryOn(t *testing.T) {
	giveUp := t0.Add(24 * time.Hour)
	for _, tc := range []struct {
		name       string
		ok         bool
		enabled    bool
		next       time.Time
		wantStatus string
		wantRetry  bool
	}{
		{"a success", true, true, t0.Add(time.Minute), Succeeded, false},
		{"a failure with time left", false, true, t0.Add(time.Minute), Pending, true},
		{"a failure past the 24 hours", false, true, giveUp.Add(time.Second), GaveUp, false},
		{"a failure that disabled the endpoint", false, false, t0.Add(time.Minute), EndpointDisabled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Delivery{Status: Pending, NextAt: t0}
			retry := d.Record(Attempt{N: 1, At: t0}, tc.ok, tc.enabled, tc.next, giveUp)
			if d.Status != tc.wantStatus || retry != tc.wantRetry || len(d.Attempts) != 1 {
				t.Fatalf("status %s retry %v attempts %d", d.Status, retry, len(d.Attempts))
			}
			if retry && !d.NextAt.Equal(tc.next) {
				t.Fatalf("next at %v, want %v", d.NextAt, tc.next)
			}
		})
	}
}

func TestRecordOutcome_DisablesAfterARunOfFailures(t *testing.T) {
	h := Webhook{Enabled: true}
	for i := 1; i <= 3; i++ {
		h.RecordOutcome(false, t0, 3, "the receiver answered 500")
		if h.ConsecutiveFailures != i || h.Enabled != (i < 3) {
			t.Fatalf("after %d failures: %+v", i, h)
		}
	}
	if h.DisabledAt != t0 || h.DisabledReason != "3 failed attempts in a row; last: the receiver answered 500" {
		t.Fatalf("disabled %+v", h)
	}
	h = Webhook{Enabled: true, ConsecutiveFailures: 2}
	h.RecordOutcome(true, t0, 3, "")
	if h.ConsecutiveFailures != 0 || !h.Enabled {
		t.Fatalf("a success: %+v", h)
	}
	h = Webhook{Enabled: true}
	for range 50 {
		h.RecordOutcome(false, t0, 0, "x")
	}
	if !h.Enabled {
		t.Fatal("disableAfter 0 disabled the endpoint")
	}
}

// An endpoint receives the events that happen while it exists and is enabled, of the types it chose.
func TestReceives(t *testing.T) {
	h := Webhook{Enabled: true, EventTypes: []string{"*"}, CreatedAt: t0}
	for _, tc := range []struct {
		name string
		h    Webhook
		typ  string
		at   time.Time
		want bool
	}{
		{"after it was created", h, "project.updated", t0.Add(time.Millisecond), true},
		{"at the same instant", h, "project.updated", t0, true},
		{"before it was created (consumed after)", h, "project.created", t0.Add(-time.Millisecond), false},
		{"disabled", Webhook{EventTypes: []string{"*"}, CreatedAt: t0}, "project.updated", t0.Add(time.Second), false},
		{"a type it did not choose", Webhook{Enabled: true, EventTypes: []string{"project.deleted"}, CreatedAt: t0}, "project.updated", t0.Add(time.Second), false},
	} {
		if got := tc.h.Receives(tc.typ, tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
