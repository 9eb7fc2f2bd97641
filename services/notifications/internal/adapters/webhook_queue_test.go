package adapters

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/daprstate/daprstatetest"

	"github.com/acme/platform/services/platform/poll"
)

// The state adapters run against a real daprd with the Redis state store, in Redis database 4,
// which this package empties first (the queue's keys are global to a store).
var client dapr.Client

const redisDB = 4

func TestMain(m *testing.M) { os.Exit(daprstatetest.Run(m, "notifications-test", redisDB, &client)) }

// recordingSender counts sends per delivery; deliveries named in failFirst get a 500 the first time.
type recordingSender struct {
	mu        sync.Mutex
	sends     map[string]int
	failFirst map[string]bool
	delay     time.Duration
}

func (s *recordingSender) Send(_ context.Context, _, _, id, _ string, _ []byte) (int, error) {
	time.Sleep(s.delay) // the receiver's own latency (drains outlast the lease), not a wait for a condition
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends[id]++
	if s.failFirst[id] && s.sends[id] == 1 {
		return 500, nil
	}
	return 204, nil
}
func (*recordingSender) Allowed(context.Context, string) error { return nil }

// Two replicas drain one queue; the one holding the lease stops halfway and the other takes over.
// Every delivery is attempted once per due time (once, or twice when its first attempt failed),
// and every delivery's log holds exactly the attempts the receiver saw.
func TestQueue_TwoDispatchersAttemptEachDeliveryOncePerDueTime(t *testing.T) {
	ctx := t.Context()
	const n = 30
	sender := &recordingSender{sends: map[string]int{}, failFirst: map[string]bool{}, delay: 300 * time.Millisecond}
	deliveries := NewStateDeliveries(client, daprstatetest.StoreName)
	replica := func(name string) (*app.Webhooks, *StateQueue) {
		q := NewStateQueue(client, daprstatetest.StoreName, name)
		q.Lease = 600 * time.Millisecond
		w := &app.Webhooks{Hooks: NewStateWebhooks(client, daprstatetest.StoreName), Deliveries: deliveries, Queue: q,
			Sender: sender, Now: time.Now, RetryBase: 400 * time.Millisecond, RetryMax: time.Second, GiveUpAfter: time.Hour,
			Replica: name, ClaimFor: 10 * time.Second}
		return w, q
	}
	wa, qa := replica("a")
	wb, qb := replica("b")
	now := time.Now().UTC()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("queue-test-%d-%d", now.UnixNano(), i)
		if i%3 == 0 {
			sender.failFirst[ids[i]] = true
		}
		d := app.Delivery{ID: ids[i], Kind: app.KindSlack, URL: "https://hooks.slack.com/services/x", EventType: "project.updated",
			Status: app.Pending, CreatedAt: now, NextAt: now, Attempts: []app.Attempt{}}
		if ok, err := deliveries.Create(ctx, d); err != nil || !ok {
			t.Fatalf("create %s: %v %v", d.ID, ok, err)
		}
		// All due in one second: draining it takes several leases' worth of sends.
		if err := qa.Schedule(ctx, d.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctxA, stopA := context.WithCancel(ctx)
	ctxB, stopB := context.WithCancel(ctx)
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); wa.Dispatch(ctxA, qa, 50*time.Millisecond, 4, log) }()
	go func() { defer loops.Done(); wb.Dispatch(ctxB, qb, 50*time.Millisecond, 4, log) }()
	defer func() { stopA(); stopB(); loops.Wait() }()

	done := func() (finished int) {
		for _, id := range ids {
			if d, ok, _ := deliveries.Get(ctx, id); ok && d.Status == app.Succeeded {
				finished++
			}
		}
		return finished
	}
	wait := func(want int) {
		t.Helper()
		if !poll.Until(30*time.Second, 50*time.Millisecond, func() bool { return done() >= want }) {
			t.Fatalf("%d of %d deliveries succeeded after 30 s", done(), want)
		}
	}
	wait(n / 3)
	// Whichever replica holds the lease stops; the other takes over once the lease lapses.
	lease, _, _, _ := deliveriesLeaseOwner(ctx)
	if lease == "a" {
		stopA()
	} else {
		stopB()
	}
	wait(n)

	sender.mu.Lock()
	defer sender.mu.Unlock()
	for _, id := range ids {
		want := 1
		if sender.failFirst[id] {
			want = 2
		}
		d, _, _ := deliveries.Get(ctx, id)
		if sender.sends[id] != want {
			t.Errorf("%s: sent %d times, want %d", id, sender.sends[id], want)
		}
		if len(d.Attempts) != sender.sends[id] || d.ClaimedBy != "" {
			t.Errorf("%s: the log holds %d attempts for %d sends (claim %q)", id, len(d.Attempts), sender.sends[id], d.ClaimedBy)
		}
		for i, a := range d.Attempts {
			if a.N != i+1 {
				t.Errorf("%s: attempt %d is numbered %d", id, i+1, a.N)
			}
		}
	}
}

// deliveriesLeaseOwner reads who holds the queue's lease.
func deliveriesLeaseOwner(ctx context.Context) (string, string, bool, error) {
	var owner string
	ok, etag, err := state{client, daprstatetest.StoreName}.get(ctx, queueLeaseKey, &owner)
	return owner, etag, ok, err
}
