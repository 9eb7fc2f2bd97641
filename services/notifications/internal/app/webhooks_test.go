package app

import (
	"testing"
	"time"
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
