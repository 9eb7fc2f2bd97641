package adapters

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"

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

func (a DaprAttempts) read(ctx context.Context, key string) (attempts, string, error) {
	item, err := a.Client.GetState(ctx, a.Store, "login-failures:"+key, nil)
	if err != nil {
		return attempts{}, "", errs.Unavailable("auth.limiter_unavailable", "the sign-in limiter is unavailable", err)
	}
	var at attempts
	if item != nil && len(item.Value) > 0 {
		_ = json.Unmarshal(item.Value, &at)
	}
	etag := ""
	if item != nil {
		etag = item.Etag
	}
	return at, etag, nil
}

// Blocked returns how long the most blocked key must wait.
func (a DaprAttempts) Blocked(ctx context.Context, keys []string) (time.Duration, error) {
	var wait time.Duration
	for _, k := range keys {
		l := a.limit(k)
		if l.Max == 0 {
			continue
		}
		at, _, err := a.read(ctx, k)
		if err != nil {
			return 0, err
		}
		if at.Count >= l.Max {
			wait = max(wait, at.Since.Add(l.Window).Sub(a.now()))
		}
	}
	return wait, nil
}

// Fail counts one failure for every key.
func (a DaprAttempts) Fail(ctx context.Context, keys []string) error {
	now := a.now()
	for _, k := range keys {
		l := a.limit(k)
		if l.Max == 0 {
			continue
		}
		for try := 0; try < 5; try++ {
			at, etag, err := a.read(ctx, k)
			if err != nil {
				return err
			}
			if at.Count == 0 || now.Sub(at.Since) > l.Window {
				at = attempts{Since: now}
			}
			at.Count++
			b, _ := json.Marshal(at)
			ttl := ttlMeta(at.Since.Add(l.Window).Sub(now) + time.Second)
			opt := dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)
			if etag == "" {
				err = a.Client.SaveState(ctx, a.Store, "login-failures:"+k, b, ttl, opt)
			} else {
				err = a.Client.SaveStateWithETag(ctx, a.Store, "login-failures:"+k, b, etag, ttl, opt)
			}
			if err == nil {
				break
			}
			if !isETagMismatch(err) {
				return errs.Unavailable("auth.limiter_unavailable", "the sign-in limiter is unavailable", err)
			}
		}
	}
	return nil
}

// Reset forgets the failures of key (after a successful login).
func (a DaprAttempts) Reset(ctx context.Context, key string) error {
	return a.Client.DeleteState(ctx, a.Store, "login-failures:"+key, nil)
}
