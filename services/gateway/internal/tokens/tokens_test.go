package tokens

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/accesstoken"
	"github.com/acme/platform/services/platform/caller"
)

// fakeUsers publishes one key and a revocation feed, as users does.
type fakeUsers struct {
	mu      sync.Mutex
	pub     ed25519.PublicKey
	rows    []*usersv1.Revocation
	page    int // revocations per answer (0: all)
	down    bool
	listed  int
	clock   func() time.Time
	revoked func() // called inside ListRevocations, before it reads (a revocation racing the poll)
}

func (f *fakeUsers) GetTokenKeys(context.Context, *usersv1.GetTokenKeysRequest, ...grpc.CallOption) (*usersv1.GetTokenKeysResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("users is down")
	}
	return &usersv1.GetTokenKeysResponse{Keys: []*usersv1.TokenKey{{Kid: "k1", Alg: "EdDSA", PublicKey: f.pub}}}, nil
}

func (f *fakeUsers) ListRevocations(ctx context.Context, in *usersv1.ListRevocationsRequest, _ ...grpc.CallOption) (*usersv1.ListRevocationsResponse, error) {
	// As users' caller.From: the feed is for platform services, and one caller id is sent.
	if md, _ := metadata.FromOutgoingContext(ctx); !slices.Equal(md.Get("acme-caller-id"), []string{"system:gateway"}) {
		return nil, fmt.Errorf("permission denied: caller %v", md.Get("acme-caller-id"))
	}
	if f.revoked != nil {
		f.revoked()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed++
	if f.down {
		return nil, errors.New("users is down")
	}
	out := &usersv1.ListRevocationsResponse{AsOf: timestamppb.New(f.clock())}
	for _, r := range f.rows {
		if in.Since == nil || !r.GetRevokedAt().AsTime().Before(in.GetSince().AsTime()) {
			if f.page > 0 && len(out.Revocations) == f.page {
				out.More = true
				break
			}
			out.Revocations = append(out.Revocations, r)
		}
	}
	return out, nil
}

func (f *fakeUsers) revoke(sid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock()
	f.rows = append(f.rows, &usersv1.Revocation{SessionId: sid, RevokedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(now.Add(15 * time.Minute))})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*Verifier, *fakeUsers, *clock, func(sid, kid string, exp time.Duration) string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	users := &fakeUsers{pub: pub, clock: c.now}
	v := New(users, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v.Now = c.now
	sign := func(sid, kid string, exp time.Duration) string {
		now := c.now()
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, accesstoken.JWTClaims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: accesstoken.Issuer, Subject: "u-" + sid, Audience: jwt.ClaimStrings{accesstoken.Audience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(exp))},
			SessionID: sid, Roles: []string{"member"}, Region: "eu"})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return v, users, c, sign
}

func ready(t *testing.T, v *Verifier) {
	t.Helper()
	if err := v.refreshKeys(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestVerify_LocallyWithTheKeysAndTheFeed(t *testing.T) {
	v, users, c, sign := setup(t)
	good := sign("s1", "k1", 15*time.Minute)
	if _, verdict := v.Verify(good); verdict != Unknown {
		t.Fatalf("before the first poll: %v, want Unknown", verdict)
	}
	ready(t, v)
	if _, verdict := v.Verify(good); verdict != Unknown {
		t.Fatalf("a session users has not vouched for: %v, want Unknown", verdict)
	}
	v.Remember("s1", c.now().Add(15*time.Minute))
	claims, verdict := v.Verify(good)
	if verdict != Valid || claims.SessionID != "s1" || claims.UserID != "u-s1" || claims.Region != "eu" {
		t.Fatalf("a good token: %v %+v", verdict, claims)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "sid": "s", "iss": accesstoken.Issuer,
		"aud": accesstoken.Audience, "exp": c.now().Add(time.Hour).Unix()})
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte("guess"))
	for name, tok := range map[string]string{
		"tampered": good[:len(good)-4] + "AAAA",
		"expired":  sign("s2", "k1", -time.Minute),
		"HMAC":     hsToken,
		"garbage":  "not.a.token",
	} {
		if _, verdict := v.Verify(tok); verdict != Invalid {
			t.Errorf("%s: %v, want Invalid", name, verdict)
		}
	}
	if _, verdict := v.Verify(sign("s3", "k2", time.Minute)); verdict != Unknown {
		t.Errorf("an unknown kid: %v, want Unknown (users decides)", verdict)
	}
	// A revoked session is refused once a poll saw it, also a poll made while serving a request,
	// whose context carries that request's caller (the gateway polls as itself).
	users.revoke("s1")
	serving := caller.Outgoing(context.Background(), caller.Caller{UserID: "u-s9", Roles: []string{"member"}})
	if err := v.Sync(serving); err != nil {
		t.Fatal(err)
	}
	if _, verdict := v.Verify(good); verdict != Invalid {
		t.Fatalf("a revoked session: %v", verdict)
	}
	// With no complete poll for longer than MaxAge, nothing is judged here.
	v.Remember("s4", c.now().Add(time.Minute))
	if _, verdict := v.Verify(sign("s4", "k1", time.Minute)); verdict != Valid {
		t.Fatalf("a known session: %v", verdict)
	}
	c.advance(v.MaxAge + time.Millisecond)
	if _, verdict := v.Verify(sign("s4", "k1", time.Minute)); verdict != Unknown {
		t.Fatalf("with a stale feed: %v, want Unknown", verdict)
	}
	users.down = true
	if err := v.Sync(context.Background()); err == nil {
		t.Fatal("a poll of a down users succeeded")
	}
	if _, verdict := v.Verify(sign("s4", "k1", time.Minute)); verdict != Unknown {
		t.Fatalf("with users down: %v, want Unknown", verdict)
	}
}

// A feed longer than a page is read to its end before verdicts are fresh; revocations are kept
// until their tokens expire, then forgotten.
func TestSync_PagesAndForgetsExpired(t *testing.T) {
	v, users, c, sign := setup(t)
	for _, sid := range []string{"a", "b", "c", "d", "e"} {
		users.revoke(sid)
		c.advance(time.Millisecond)
	}
	users.page = 2
	ready(t, v)
	for _, sid := range []string{"a", "b", "c", "d", "e"} {
		if _, verdict := v.Verify(sign(sid, "k1", time.Minute)); verdict != Invalid {
			t.Errorf("%s: %v, want Invalid", sid, verdict)
		}
	}
	c.advance(16 * time.Minute)
	users.page = 0
	if err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.mu.RLock()
	n := len(v.revoked)
	v.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d expired revocations kept", n)
	}
}

// The bound under concurrency: requests verify while sessions are revoked and polls run. Once a
// poll that started after a revocation has completed, no verification may accept that session's
// token: 300 rounds of a revocation racing a poll and eight verifying goroutines.
func TestVerify_NeverAcceptsARevocationAPollSaw(t *testing.T) {
	v, users, c, sign := setup(t)
	ready(t, v)
	for round := range 300 {
		sid := "s" + string(rune('A'+round%26)) + time.Duration(round).String()
		tok := sign(sid, "k1", time.Minute)
		v.Remember(sid, c.now().Add(time.Minute))
		var revokedAt sync.Once
		users.revoked = func() { revokedAt.Do(func() { users.revoke(sid) }) }
		stop := make(chan struct{})
		var seenAfterSync sync.WaitGroup
		bad := make(chan string, 8)
		synced := make(chan struct{})
		for range 8 {
			seenAfterSync.Add(1)
			go func() {
				defer seenAfterSync.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					select {
					case <-synced:
						if _, verdict := v.Verify(tok); verdict == Valid {
							bad <- sid
							return
						}
					default:
						v.Verify(tok)
					}
				}
			}()
		}
		if err := v.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(synced)
		// Let the verifiers run against the synced state until each has checked at least once more.
		for range 100 {
			v.Verify(tok)
		}
		close(stop)
		seenAfterSync.Wait()
		select {
		case s := <-bad:
			t.Fatalf("round %d: session %s accepted after the poll that saw its revocation", round, s)
		default:
		}
		c.advance(time.Millisecond)
	}
}

// A token's signature check is cached, but not past its expiry, and not past its key's withdrawal.
func TestVerify_CacheEndsWithTheTokenAndItsKey(t *testing.T) {
	v, users, c, sign := setup(t)
	ready(t, v)
	tok := sign("s1", "k1", time.Minute)
	v.Remember("s1", c.now().Add(time.Hour))
	if _, verdict := v.Verify(tok); verdict != Valid {
		t.Fatalf("first check: %v", verdict)
	}
	if _, verdict := v.Verify(tok); verdict != Valid {
		t.Fatalf("cached check: %v", verdict)
	}
	// users replaces its key: the cached verdict goes with the old one.
	other, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	users.mu.Lock()
	users.pub = other
	users.mu.Unlock()
	if err := v.refreshKeys(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, verdict := v.Verify(tok); verdict != Invalid {
		t.Fatalf("a token of a withdrawn key: %v, want Invalid", verdict)
	}
	// Expiry: a cached token is refused once expired.
	v2, _, c2, sign2 := setup(t)
	ready(t, v2)
	tok2 := sign2("s2", "k1", time.Minute)
	v2.Remember("s2", c2.now().Add(time.Hour))
	if _, verdict := v2.Verify(tok2); verdict != Valid {
		t.Fatalf("first check: %v", verdict)
	}
	c2.advance(time.Minute + accesstoken.Leeway + time.Second)
	if err := v2.Sync(context.Background()); err != nil { // keep the feed fresh
		t.Fatal(err)
	}
	if _, verdict := v2.Verify(tok2); verdict != Invalid {
		t.Fatalf("an expired cached token: %v, want Invalid", verdict)
	}
}
