package adapters

import (
	"context"
	"errors"
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

// blocked is the wait of a key at its limit.
type blocked struct{ wait time.Duration }

func (b blocked) Error() string { return "blocked for " + b.wait.String() }

// Reserve counts one attempt for every key, each with a compare-and-set on the counter's ETag (so
// concurrent attempts serialize per key), unless a key is at its limit: then the keys reserved so
// far are released and the wait returned. A counter starts again once its window has passed, and
// expires with it.
func (a DaprAttempts) Reserve(ctx context.Context, keys []string) (time.Duration, error) {
	now := a.now()
	var reserved []string
	for _, k := range keys {
		l := a.limit(k)
		if l.Max == 0 {
			continue
		}
		// The counter outlives its window by a second at most past the latest attempt; it judges
		// by its start, so a counter kept longer blocks nobody.
		_, err := a.counters().Update(ctx, "login-failures:"+k, l.Window+time.Second, func(at *attempts, _ bool) error {
			if at.Count == 0 || now.Sub(at.Since) > l.Window {
				*at = attempts{Since: now}
			}
			if at.Count >= l.Max {
				return blocked{wait: at.Since.Add(l.Window).Sub(now)}
			}
			at.Count++
			return nil
		})
		var b blocked
		if errors.As(err, &b) {
			for _, r := range reserved {
				_ = a.Release(ctx, r)
			}
			return max(b.wait, time.Second), nil
		}
		if err != nil {
			return 0, limiterUnavailable(err)
		}
		reserved = append(reserved, k)
	}
	return 0, nil
}

// Release takes one attempt back from key.
func (a DaprAttempts) Release(ctx context.Context, key string) error {
	if a.limit(key).Max == 0 {
		return nil
	}
	_, err := a.counters().Update(ctx, "login-failures:"+key, a.limit(key).Window+time.Second, func(at *attempts, exists bool) error {
		if !exists || at.Count == 0 {
			return errNothing
		}
		at.Count--
		return nil
	})
	if err != nil && !errors.Is(err, errNothing) {
		return limiterUnavailable(err)
	}
	return nil
}

var errNothing = errors.New("nothing to release")

// Reset forgets the failures of key (after a successful login).
func (a DaprAttempts) Reset(ctx context.Context, key string) error {
	return a.counters().Delete(ctx, "login-failures:"+key)
}
