// Package tokens lets the gateway verify access tokens itself, as Envoy's JWT filter does with a key
// set: the public keys come from users (GetTokenKeys), and so does the feed of ended sessions
// (ListRevocations), which every replica polls. A request then costs no call to users.
//
// A token is judged here only for a session this replica has seen users accept: the first token of
// a session is sent to users (Remember records the answer), the next ones are not. So a token that is
// correctly signed but names a session that never existed (a leaked signing key, a forged session)
// is still refused by users, as before.
//
// The revocation bound is by construction: a token is judged here only while the newest complete
// poll of the feed started less than MaxAge ago; otherwise (users unreachable, the poller behind)
// the verdict is Unknown and the gateway asks users, as it did per request before. So no replica
// accepts a token more than MaxAge after its session's end was recorded. The replica that carried
// the request ending a session polls at once (Sync) before answering, so there it holds at once.
package tokens

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/accesstoken"
	"github.com/acme/platform/services/platform/caller"
)

// Users is what the verifier asks users (through the gateway's sidecar).
type Users interface {
	GetTokenKeys(ctx context.Context, in *usersv1.GetTokenKeysRequest, opts ...grpc.CallOption) (*usersv1.GetTokenKeysResponse, error)
	ListRevocations(ctx context.Context, in *usersv1.ListRevocationsRequest, opts ...grpc.CallOption) (*usersv1.ListRevocationsResponse, error)
}

// Verdict is what the verifier can say of a token.
type Verdict int

const (
	// Unknown: the verifier cannot judge (no fresh feed, a key it does not hold); ask users.
	Unknown Verdict = iota
	Valid
	Invalid
)

// Self is who the verifier is to users.
var Self = caller.Caller{UserID: caller.SystemPrefix + "gateway"}

// Verifier judges access tokens with users' keys and revocation feed.
type Verifier struct {
	Users Users
	// Interval between polls of the feed; MaxAge how old the newest complete poll may be for a
	// verdict (the revocation bound); Lookback how far before the previous poll's time each poll
	// reads again (rows committed out of order); KeysEvery how often the keys are fetched again.
	Interval, MaxAge, Lookback, KeysEvery time.Duration
	Now                                   func() time.Time
	Log                                   *slog.Logger

	mu      sync.RWMutex
	keys    map[string]ed25519.PublicKey
	keysAt  time.Time
	keysGen int // counts key set changes
	// verified caches what a token's signature check said, by the token: the check (Ed25519) was a
	// sixth of the gateway's CPU per request. Emptied when the keys change or it grows past maxCached.
	verified map[string]accesstoken.Claims
	revoked  map[string]time.Time // session id → when its tokens are all expired
	known    map[string]time.Time // session id users accepted → when the accepted token expires
	since    time.Time            // the next poll reads revocations from here (users' clock)
	fresh    time.Time            // when the newest complete poll started (this clock)

	syncMu sync.Mutex // one poll at a time
}

// New returns a verifier with the platform's settings: a poll every 250 ms, verdicts for 1 s after
// the newest complete poll, 5 s read again, keys fetched every 5 minutes.
func New(users Users, log *slog.Logger) *Verifier {
	return &Verifier{Users: users, Interval: 250 * time.Millisecond, MaxAge: time.Second, Lookback: 5 * time.Second,
		KeysEvery: 5 * time.Minute, Now: time.Now, Log: log, revoked: map[string]time.Time{},
		known: map[string]time.Time{}, verified: map[string]accesstoken.Claims{}}
}

// maxCached bounds the verified-token cache.
const maxCached = 100_000

// Verify judges a token.
func (v *Verifier) Verify(token string) (accesstoken.Claims, Verdict) {
	now := v.Now()
	v.mu.RLock()
	keys, gen, stale := v.keys, v.keysGen, len(v.keys) == 0 || v.fresh.IsZero() || now.Sub(v.fresh) > v.MaxAge
	c, cached := v.verified[token]
	v.mu.RUnlock()
	if stale {
		return accesstoken.Claims{}, Unknown
	}
	if !cached {
		var err error
		c, err = accesstoken.Verify(token, keys, v.Now)
		switch {
		case errors.Is(err, accesstoken.ErrUnknownKey):
			return accesstoken.Claims{}, Unknown // a key newer than ours, perhaps: users knows
		case err != nil:
			return accesstoken.Claims{}, Invalid
		}
		v.mu.Lock()
		if len(v.verified) >= maxCached {
			clear(v.verified)
		}
		if gen == v.keysGen { // not verified with keys replaced meanwhile
			v.verified[token] = c
		}
		v.mu.Unlock()
	} else if now.After(c.ExpiresAt.Add(accesstoken.Leeway)) {
		return accesstoken.Claims{}, Invalid
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if _, ok := v.revoked[c.SessionID]; ok {
		return accesstoken.Claims{}, Invalid
	}
	if exp, ok := v.known[c.SessionID]; !ok || v.Now().After(exp) {
		return accesstoken.Claims{}, Unknown // a session users has not vouched for here (yet)
	}
	return c, Valid
}

// Remember records that users accepted a token of the session, valid until exp: later tokens of it
// are judged here (until its revocation arrives).
func (v *Verifier) Remember(sessionID string, exp time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if exp.After(v.known[sessionID]) {
		v.known[sessionID] = exp
	}
}

// Run keeps the keys and the feed fresh until ctx ends. Failures are logged and retried: meanwhile
// the verdicts are Unknown and users is asked per request.
func (v *Verifier) Run(ctx context.Context) error {
	t := time.NewTicker(v.Interval)
	defer t.Stop()
	failing := false
	for {
		err := v.refreshKeys(ctx, false)
		if err == nil {
			err = v.Sync(ctx)
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			v.Log.WarnContext(ctx, "token verification falls back to users: the key set or revocation feed is unreachable", "error", err)
			failing = true
		case err == nil && failing:
			v.Log.InfoContext(ctx, "token verification is local again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// asSelf is ctx calling as the gateway itself: a poll made while serving a request (Sync after a
// logout) must not carry that request's caller.
func asSelf(ctx context.Context) context.Context {
	return caller.Outgoing(metadata.NewOutgoingContext(ctx, metadata.MD{}), Self)
}

// refreshKeys fetches the key set when it is due (or forced).
func (v *Verifier) refreshKeys(ctx context.Context, force bool) error {
	v.mu.RLock()
	due := force || len(v.keys) == 0 || v.Now().Sub(v.keysAt) >= v.KeysEvery
	v.mu.RUnlock()
	if !due {
		return nil
	}
	resp, err := v.Users.GetTokenKeys(asSelf(ctx), &usersv1.GetTokenKeysRequest{})
	if err != nil {
		return err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range resp.GetKeys() {
		if k.GetAlg() == "EdDSA" && len(k.GetPublicKey()) == ed25519.PublicKeySize {
			keys[k.GetKid()] = ed25519.PublicKey(k.GetPublicKey())
		}
	}
	if len(keys) == 0 {
		return errors.New("tokens: users published no usable key")
	}
	v.mu.Lock()
	if !maps.EqualFunc(keys, v.keys, func(a, b ed25519.PublicKey) bool { return a.Equal(b) }) {
		clear(v.verified) // a key withdrawn takes its tokens with it
		v.keysGen++
	}
	v.keys, v.keysAt = keys, v.Now()
	v.mu.Unlock()
	return nil
}

// Sync reads the feed until it is caught up; then verdicts may be given for MaxAge from the time
// this poll started.
func (v *Verifier) Sync(ctx context.Context) error {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	started := v.Now()
	ctx = asSelf(ctx)
	for {
		v.mu.RLock()
		req := &usersv1.ListRevocationsRequest{}
		if !v.since.IsZero() {
			req.Since = timestamppb.New(v.since)
		}
		v.mu.RUnlock()
		resp, err := v.Users.ListRevocations(ctx, req)
		if err != nil {
			return err
		}
		now := v.Now()
		v.mu.Lock()
		for _, r := range resp.GetRevocations() {
			v.revoked[r.GetSessionId()] = r.GetExpiresAt().AsTime()
		}
		rs := resp.GetRevocations()
		if resp.GetMore() && len(rs) > 0 {
			v.since = rs[len(rs)-1].GetRevokedAt().AsTime()
		} else {
			v.since = resp.GetAsOf().AsTime().Add(-v.Lookback)
			v.fresh = started
			for _, m := range []map[string]time.Time{v.revoked, v.known} {
				for id, exp := range m {
					if now.After(exp) {
						delete(m, id)
					}
				}
			}
			for tok, c := range v.verified {
				if now.After(c.ExpiresAt.Add(accesstoken.Leeway)) {
					delete(v.verified, tok)
				}
			}
		}
		v.mu.Unlock()
		if !resp.GetMore() {
			return nil
		}
	}
}
