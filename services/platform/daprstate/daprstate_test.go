package daprstate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/daprstate/daprstatetest"
	"github.com/acme/platform/services/platform/poll"
)

// The suite runs against a real daprd with the Redis state store (Redis database 3, keys unique
// per run), as the services use it.
var client dapr.Client

const storeName = daprstatetest.StoreName

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "daprstate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	var stop func()
	client, stop, err = daprstatetest.Start(context.Background(), dir, "daprstate-test", 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daprstate:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

type session struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

var seq atomic.Int64

func key(t *testing.T) string {
	return fmt.Sprintf("daprstate-test:%s:%d:%d", t.Name(), time.Now().UnixNano(), seq.Add(1))
}

func store() daprstate.Store[session] { return daprstate.New[session](client, storeName) }

func TestCreate_OnlyWhereNothingIs(t *testing.T) {
	ctx, s, k := t.Context(), store(), key(t)
	if err := s.Create(ctx, k, session{ID: "a"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, k, session{ID: "b"}, 0); !errors.Is(err, daprstate.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	v, etag, found, err := s.Get(ctx, k)
	if err != nil || !found || v.ID != "a" || etag == "" {
		t.Fatalf("get: %+v %q %v %v", v, etag, found, err)
	}
	if _, _, found, err := s.Get(ctx, key(t)); found || err != nil {
		t.Fatalf("a key never written: found %v, %v", found, err)
	}
}

func TestReplace_OnlyOverTheVersionRead(t *testing.T) {
	ctx, s, k := t.Context(), store(), key(t)
	if err := s.Create(ctx, k, session{ID: "a", Version: 1}, 0); err != nil {
		t.Fatal(err)
	}
	_, etag, _, _ := s.Get(ctx, k)
	if err := s.Replace(ctx, k, session{ID: "a", Version: 2}, etag, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, k, session{ID: "a", Version: 3}, etag, 0); !errors.Is(err, daprstate.ErrConflict) {
		t.Fatalf("replace with a stale ETag: %v, want ErrConflict", err)
	}
	if v, _, _, _ := s.Get(ctx, k); v.Version != 2 {
		t.Fatalf("version %d, want 2", v.Version)
	}
}

// Dapr's Redis store writes over a key that is gone when given any ETag: that is what brought a
// revoked session back. This checks that the gap is still there (so the tombstones still matter)
// and that a Delete through this package closes it.
func TestDelete_ADeletedKeyStaysDeletedForWritersThatReadIt(t *testing.T) {
	ctx, s := t.Context(), store()
	raw := key(t)
	if err := client.SaveState(ctx, storeName, raw, []byte(`{"id":"raw"}`), nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)); err != nil {
		t.Fatal(err)
	}
	item, _ := client.GetState(ctx, storeName, raw, nil)
	if err := client.DeleteState(ctx, storeName, raw, nil); err != nil {
		t.Fatal(err)
	}
	err := client.SaveStateWithETag(ctx, storeName, raw, []byte(`{"id":"back"}`), item.Etag, nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	if err != nil {
		t.Logf("Dapr's Redis store now refuses an ETag write on a deleted key (%v): the tombstones could go", err)
	}

	k := key(t)
	if err := s.Create(ctx, k, session{ID: "s"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	_, etag, _, _ := s.Get(ctx, k)
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, k, session{ID: "s", Version: 9}, etag, time.Hour); !errors.Is(err, daprstate.ErrConflict) {
		t.Fatalf("a write with the ETag read before the delete: %v, want ErrConflict", err)
	}
	if _, _, found, _ := s.Get(ctx, k); found {
		t.Fatal("the deleted key is back")
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("deleting a deleted key: %v", err)
	}
	if got, err := s.GetMany(ctx, []string{k}); err != nil || len(got) != 0 {
		t.Fatalf("GetMany of a deleted key: %v %v", got, err)
	}
}

// A read-then-write racing a delete, many rounds: whenever the delete succeeded, the key is gone
// afterwards, whatever the order (the refresh-versus-revoke race of sessions).
func TestDelete_RacingAReplaceNeverLeavesTheKeyAlive(t *testing.T) {
	ctx, s := t.Context(), store()
	revived := 0
	for round := range 200 {
		k := fmt.Sprintf("%s-%d", key(t), round)
		if err := s.Create(ctx, k, session{ID: "s"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, etag, _, _ := s.Get(ctx, k)
		var wg sync.WaitGroup
		var delErr, repErr error
		wg.Add(2)
		go func() { defer wg.Done(); delErr = s.Delete(ctx, k) }()
		go func() { defer wg.Done(); repErr = s.Replace(ctx, k, session{ID: "s", Version: 2}, etag, time.Hour) }()
		wg.Wait()
		if delErr != nil || (repErr != nil && !errors.Is(repErr, daprstate.ErrConflict)) {
			t.Fatalf("round %d: delete %v, replace %v", round, delErr, repErr)
		}
		if _, _, found, _ := s.Get(ctx, k); found {
			revived++
		}
	}
	if revived > 0 {
		t.Fatalf("in %d of 200 rounds the deleted key was alive afterwards", revived)
	}
}

// Of two consumers that read the same version, exactly one deletes it (single-use tokens).
func TestDeleteAt_ExactlyOneOfTwoConsumers(t *testing.T) {
	ctx, s := t.Context(), store()
	for round := range 100 {
		k := fmt.Sprintf("%s-%d", key(t), round)
		if err := s.Create(ctx, k, session{ID: "token"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, etag, _, _ := s.Get(ctx, k)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.DeleteAt(ctx, k, etag)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, daprstate.ErrConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d consumers won", round, wins.Load())
		}
	}
}

// Concurrent updates of one key lose nothing.
func TestUpdate_ConcurrentWritersLoseNothing(t *testing.T) {
	ctx, s, k := t.Context(), store(), key(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.Update(ctx, k, time.Hour, func(v *session, _ bool) error { v.Version++; return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, _, _, _ := s.Get(ctx, k); v.Version != 80 {
		t.Fatalf("counter %d after 80 increments", v.Version)
	}
	// A change that fails writes nothing.
	boom := errors.New("no")
	if _, err := s.Update(ctx, k, time.Hour, func(v *session, _ bool) error { v.Version = -1; return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if v, _, _, _ := s.Get(ctx, k); v.Version != 80 {
		t.Fatalf("a failed change wrote %d", v.Version)
	}
	// Over a deleted key, Update starts from nothing.
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	v, err := s.Update(ctx, k, time.Hour, func(v *session, exists bool) error {
		if exists {
			return errors.New("a deleted key exists")
		}
		v.Version = 1
		return nil
	})
	if err != nil || v.Version != 1 {
		t.Fatalf("update over a deleted key: %+v %v", v, err)
	}
}

func TestTTL_TheKeyExpires(t *testing.T) {
	ctx, s, k := t.Context(), store(), key(t)
	if err := s.Create(ctx, k, session{ID: "short"}, time.Second); err != nil {
		t.Fatal(err)
	}
	gone := poll.Until(10*time.Second, 100*time.Millisecond, func() bool {
		_, _, found, err := s.Get(ctx, k)
		return err == nil && !found
	})
	if !gone {
		t.Fatal("a key with a 1 s TTL still there after 10 s")
	}
}
