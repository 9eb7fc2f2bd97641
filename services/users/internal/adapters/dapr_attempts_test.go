package adapters

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate/daprstatetest"
)

// redisDB is this package's Redis database (the e2e suite has 1, daprstate 3, notifications 4).
const redisDB = 5

var client dapr.Client

func TestMain(m *testing.M) { os.Exit(daprstatetest.Run(m, "users-test", redisDB, &client)) }

// Twenty guesses at one account at once, from twenty addresses: exactly the limit get to check a
// password, the rest wait — in every one of 200 rounds. (Counted before the check, an attempt in
// flight counts; checked before and counted after, all twenty passed.)
func TestDaprAttempts_ParallelGuessesCannotPassTheLimit(t *testing.T) {
	a := DaprAttempts{Client: client, Store: "statestore", Limits: map[string]AttemptLimit{"acct": {Max: 5, Window: time.Minute},
		"ip": {Max: 30, Window: time.Minute}}}
	ctx := context.Background()
	for round := range 200 {
		acct := fmt.Sprintf("acct:round-%d", round)
		var passed, waited atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait, err := a.Reserve(ctx, []string{acct, fmt.Sprintf("ip:10.0.%d.%d", round%250, i)})
				switch {
				case err != nil:
					t.Error(err)
				case wait > 0:
					waited.Add(1)
				default:
					passed.Add(1)
				}
			}()
		}
		wg.Wait()
		if passed.Load() != 5 || waited.Load() != 15 {
			t.Fatalf("round %d: %d checked a password, %d waited; want 5 and 15", round, passed.Load(), waited.Load())
		}
	}
}

// A refused attempt counts nowhere: the address keeps what it had when the account key refused.
// A released attempt (a success) is given back.
func TestDaprAttempts_ReleaseAndRefusalCountNothing(t *testing.T) {
	a := DaprAttempts{Client: client, Store: "statestore", Limits: map[string]AttemptLimit{"acct": {Max: 1, Window: time.Minute},
		"ip": {Max: 2, Window: time.Minute}}}
	ctx := context.Background()
	keys := []string{"acct:release", "ip:192.0.2.7"}
	if wait, err := a.Reserve(ctx, keys); wait != 0 || err != nil {
		t.Fatal(wait, err)
	}
	if wait, _ := a.Reserve(ctx, keys); wait == 0 {
		t.Fatal("the account's second attempt was not refused")
	}
	// The refusal came from the account key, after the address had been counted: given back.
	if wait, _ := a.Reserve(ctx, []string{"acct:other", "ip:192.0.2.7"}); wait != 0 {
		t.Fatal("the address was charged for a refused attempt")
	}
	if err := a.Release(ctx, "ip:192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if wait, _ := a.Reserve(ctx, []string{"acct:third", "ip:192.0.2.7"}); wait != 0 {
		t.Fatal("a released attempt was not given back")
	}
}

// One outstanding reset token per account: a new one ends the one before, Peek spends nothing,
// Take spends once, RevokeAll ends what is outstanding.
func TestDaprResetTokens_OneOutstandingPerAccount(t *testing.T) {
	r := DaprResetTokens{Client: client, Store: "statestore"}
	ctx := context.Background()
	user := fmt.Sprintf("user-%d", time.Now().UnixNano())
	if err := r.Save(ctx, user+"-h1", user, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(ctx, user+"-h2", user, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Take(ctx, user+"-h1"); err == nil {
		t.Fatal("a replaced token was taken")
	}
	for range 2 {
		if id, err := r.Peek(ctx, user+"-h2"); err != nil || id != user {
			t.Fatalf("peek: %q %v", id, err)
		}
	}
	if id, err := r.Take(ctx, user+"-h2"); err != nil || id != user {
		t.Fatalf("take: %q %v", id, err)
	}
	if _, err := r.Take(ctx, user+"-h2"); err == nil {
		t.Fatal("a token was taken twice")
	}
	if err := r.Save(ctx, user+"-h3", user, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeAll(ctx, user); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Peek(ctx, user+"-h3"); err == nil {
		t.Fatal("a revoked token is still there")
	}
}
