package resolvercache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	nr "github.com/dapr/components-contrib/nameresolution"
)

// fakeResolver answers "<id>-<n>" for its n-th query, or fails while down is set.
type fakeResolver struct {
	queries atomic.Int64
	down    atomic.Bool
}

func (f *fakeResolver) Init(context.Context, nr.Metadata) error { return nil }
func (f *fakeResolver) Close() error                            { return nil }
func (f *fakeResolver) ResolveID(_ context.Context, req nr.ResolveRequest) (string, error) {
	n := f.queries.Add(1)
	if f.down.Load() {
		return "", errors.New("no host found with the given ID")
	}
	return fmt.Sprintf("%s-%d", req.ID, n), nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newResolver(t *testing.T) (*Resolver, *fakeResolver, *clock) {
	t.Helper()
	inner, c := &fakeResolver{}, &clock{t: time.Unix(1_700_000_000, 0)}
	r := New(inner, time.Second, c.now)
	md := nr.Metadata{Instance: nr.Instance{AppID: "projects", Address: "127.0.0.1", DaprInternalPort: 50002}}
	if err := r.Init(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	return r, inner, c
}

func resolve(t *testing.T, r *Resolver, id string) string {
	t.Helper()
	addr, err := r.ResolveID(context.Background(), nr.ResolveRequest{ID: id, Port: 50002})
	if err != nil {
		t.Fatalf("resolve %s: %v", id, err)
	}
	return addr
}

func TestOwnAppIDResolvesWithoutAQuery(t *testing.T) {
	r, inner, _ := newResolver(t)
	for range 3 {
		if got := resolve(t, r, "projects"); got != "127.0.0.1:50002" {
			t.Fatalf("own id resolved to %q", got)
		}
	}
	if n := inner.queries.Load(); n != 0 {
		t.Fatalf("%d queries for the own app id", n)
	}
	// Another namespace's app of the same id is another app.
	if _, err := r.ResolveID(context.Background(), nr.ResolveRequest{ID: "projects", Namespace: "other"}); err != nil {
		t.Fatal(err)
	}
	if n := inner.queries.Load(); n != 1 {
		t.Fatalf("another namespace's app: %d queries, want 1", n)
	}
}

func TestAnotherAppIsKeptForTTLThenLookedUpAgain(t *testing.T) {
	r, inner, c := newResolver(t)
	first := resolve(t, r, "users")
	c.add(999 * time.Millisecond)
	if got := resolve(t, r, "users"); got != first {
		t.Fatalf("within the TTL: %q, want the kept %q", got, first)
	}
	if n := inner.queries.Load(); n != 1 {
		t.Fatalf("%d queries within the TTL, want 1", n)
	}
	c.add(time.Millisecond)
	if got := resolve(t, r, "users"); got == first {
		t.Fatalf("after the TTL: still %q", got)
	}
	if n := inner.queries.Load(); n != 2 {
		t.Fatalf("%d queries after the TTL, want 2", n)
	}
	// Apps are kept apart.
	if got := resolve(t, r, "billing"); got != "billing-3" {
		t.Fatalf("billing resolved to %q", got)
	}
}

func TestFailuresAreNotKept(t *testing.T) {
	r, inner, _ := newResolver(t)
	inner.down.Store(true)
	for range 2 {
		if _, err := r.ResolveID(context.Background(), nr.ResolveRequest{ID: "users"}); err == nil {
			t.Fatal("a failed lookup answered")
		}
	}
	inner.down.Store(false)
	if got := resolve(t, r, "users"); got != "users-3" {
		t.Fatalf("after the app came up: %q, want a fresh lookup", got)
	}
}

// Lookups racing an expiry: every answer is one the wrapped resolver gave, and the cache settles.
func TestConcurrentLookups(t *testing.T) {
	r, inner, c := newResolver(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if g == 0 && i%50 == 0 {
					c.add(time.Second)
				}
				if addr := resolve(t, r, "users"); addr == "" {
					t.Error("empty address")
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := inner.queries.Load(); n >= 4000 {
		t.Fatalf("%d queries for 4000 lookups: nothing was kept", n)
	}
}
