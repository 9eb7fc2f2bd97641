package adapters

import (
	"context"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
)

// AttemptLimit allows Max failures per Window for keys of one kind.
type AttemptLimit struct {
	Max    int
	Window time.Duration
}

// DaprAttempts counts failed logins in the Dapr state store. A key is "acct:<hash>" or "ip:<addr>";
// each kind has its limit. A counter expires with its window, so a blocked key frees itself.
type DaprAttempts struct {
	Client dapr.Client
	Store  string
	Limits map[string]AttemptLimit // by kind: "acct", "ip"
	Now    func() time.Time
}

type attempts struct {
	Count int       `json:"count"`
	Since time.Time `json:"since"`
}

func (a DaprAttempts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a DaprAttempts) limit(key string) AttemptLimit {
	kind, _, _ := strings.Cut(key, ":")
	return a.Limits[kind]
}

func (a DaprAttempts) counters() daprstate.Store[attempts] {
	return daprstate.New[attempts](a.Client, a.Store)
}

func limiterUnavailable(err error) error {
	return errs.Unavailable("auth.limiter_unavailable", "the sign-in limiter is unavailable", err)
}

// Blocked returns how long the most blocked key must wait.
func (a DaprAttempts) Blocked(ctx context.Context, keys []string) (time.Duration, error) {
	var wait time.Duration
	for _, k := range keys {
		l := a.limit(k)
		if l.Max == 0 {
			continue
		}
		at, _, _, err := a.counters().Get(ctx, "login-failures:"+k)
		if err != nil {
			return 0, limiterUnavailable(err)
		}
		if at.Count >= l.Max {
			wait = max(wait, at.Since.Add(l.Window).Sub(a.now()))
		}
	}
	return wait, nil
}

// Fail counts one failure for every key; a counter starts again once its window has passed, and
// expires with it.
func (a DaprAttempts) Fail(ctx context.Context, keys []string) error {
	now := a.now()
	for _, k := range keys {
		l := a.limit(k)
		if l.Max == 0 {
			continue
		}
		// The counter outlives its window by a second at most past the latest failure; Blocked
		// judges by its start, so a counter kept longer blocks nobody.
		_, err := a.counters().Update(ctx, "login-failures:"+k, l.Window+time.Second, func(at *attempts, _ bool) error {
			if at.Count == 0 || now.Sub(at.Since) > l.Window {
				*at = attempts{Since: now}
			}
			at.Count++
			return nil
		})
		if err != nil {
			return limiterUnavailable(err)
		}
	}
	return nil
}

// Reset forgets the failures of key (after a successful login).
func (a DaprAttempts) Reset(ctx context.Context, key string) error {
	return a.counters().Delete(ctx, "login-failures:"+key)
}
