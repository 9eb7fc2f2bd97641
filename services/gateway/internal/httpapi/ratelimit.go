package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"

	"github.com/acme/platform/services/platform/errs"
)

// RateLimits are the per-class limits, enforced with GCRA in Redis so every gateway replica shares
// them. Auth routes (register, login) are limited per client address; everything else per signed-in
// user.
type RateLimits struct {
	Limiter *redis_rate.Limiter
	Auth    redis_rate.Limit
	API     redis_rate.Limit
	// Prefix namespaces the keys (an environment, or a test run).
	Prefix string
	Log    *slog.Logger

	leases leases
}

// The per-user limit is taken from Redis a few tokens at a time: a replica that finds no token of
// the user's in hand takes up to leaseSize(limit) of them in one call (GCRA's AllowAtMost: as many
// as are there, at most that many) and admits the user's next requests from them until they are
// spent or leaseTTL has passed. A token is spent in Redis before any request it admits, so the
// replicas together never admit more than the limit; a lease that lapses unspent is lost, so a user
// whose requests are spread over R replicas may be refused up to R·(leaseSize-1) requests early,
// once per leaseTTL. leaseSize keeps that to 1 % of the limit, at most 16 tokens: with a limit
// under 200 per period every request asks Redis, as before. It takes a Redis call (two
// round trips of the gateway and a script in Redis, a tenth of a request's CPU) off most requests.
// The per-address auth limit, which guards password guessing, is always asked token by token.
const leaseTTL = time.Second

func leaseSize(l redis_rate.Limit) int { return min(16, max(1, l.Rate/100)) }

// leases are the tokens this replica holds, by key.
type leases struct {
	mu sync.Mutex
	m  map[string]*lease
}

type lease struct {
	tokens  int
	expires time.Time
	// what Redis last said: its remaining count excludes the tokens held here
	res redis_rate.Result
}

// maxLeases bounds the map; past it, lapsed leases are dropped, then all of them (dropping a
// lease only refuses early, never admits more).
const maxLeases = 100_000

// take admits one request from a lease held for key, if one is live, and returns what the
// headers say: Redis' last answer with the tokens still held counted as remaining.
func (ls *leases) take(key string, now time.Time) (redis_rate.Result, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[key]
	if l == nil || l.tokens == 0 || !now.Before(l.expires) {
		return redis_rate.Result{}, false
	}
	l.tokens--
	res := l.res
	res.Remaining += l.tokens
	return res, true
}

// keep holds the tokens of a lease Redis granted beyond the one the current request spends.
func (ls *leases) keep(key string, now time.Time, res redis_rate.Result) redis_rate.Result {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]*lease{}
	}
	l := ls.m[key]
	if l == nil || !now.Before(l.expires) {
		if len(ls.m) >= maxLeases {
			for k, old := range ls.m {
				if !now.Before(old.expires) {
					delete(ls.m, k)
				}
			}
			if len(ls.m) >= maxLeases {
				clear(ls.m)
			}
		}
		l = &lease{}
		ls.m[key] = l
	}
	// Two requests that both found no token each took a lease: keep both, none is wasted.
	l.tokens += res.Allowed - 1
	l.expires, l.res = now.Add(leaseTTL), res
	out := res
	out.Remaining += l.tokens
	return out
}

// ParseLimit reads "N/period" (period a Go duration or s, m, h), e.g. "20/m", "600/1m", "5/10s".
// The burst equals N: a client may spend the whole allowance at once, then earns it back evenly.
func ParseLimit(s string) (redis_rate.Limit, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	rate, err := strconv.Atoi(n)
	if !ok || err != nil || rate <= 0 {
		return redis_rate.Limit{}, fmt.Errorf("rate limit %q: want N/period, e.g. 20/m", s)
	}
	switch per {
	case "s":
		per = "1s"
	case "m":
		per = "1m"
	case "h":
		per = "1h"
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return redis_rate.Limit{}, fmt.Errorf("rate limit %q: bad period", s)
	}
	return redis_rate.Limit{Rate: rate, Burst: rate, Period: d}, nil
}

// limit returns middleware for a class; key picks the caller's identity from the request.
func (r *RateLimits) limit(class string, limit redis_rate.Limit, key func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if r == nil || r.Limiter == nil {
			c.Next()
			return
		}
		res, err := r.allow(c.Request.Context(), class, r.Prefix+"ratelimit:"+class+":"+key(c), limit)
		if err != nil {
			if class == "api" {
				// Redis unreachable: signed-in traffic is served rather than refused; logged.
				r.Log.WarnContext(c.Request.Context(), "rate limiter unavailable, allowing", "error", err)
				c.Next()
				return
			}
			// The per-address limits guard password guessing and account creation: without them,
			// refuse rather than let guesses through unbounded.
			r.Log.ErrorContext(c.Request.Context(), "rate limiter unavailable, refusing", "class", class, "error", err)
			fail(c, errLimiterUnavailable(err))
			return
		}
		c.Header("RateLimit-Limit", strconv.Itoa(limit.Rate))
		c.Header("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		c.Header("RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
		c.Header("RateLimit-Policy", fmt.Sprintf("%d;w=%d", limit.Rate, int(limit.Period.Seconds())))
		if res.Allowed == 0 {
			c.Header("Retry-After", strconv.Itoa(max(1, ceilSeconds(res.RetryAfter))))
			fail(c, &errs.Error{Kind: errs.KindTooMany, Code: "rate_limited",
				Message: fmt.Sprintf("too many requests; retry in %d s", max(1, ceilSeconds(res.RetryAfter)))})
			return
		}
		c.Next()
	}
}

// allow spends one token of key's limit: from a lease held here (class api), or from Redis.
func (r *RateLimits) allow(ctx context.Context, class, key string, limit redis_rate.Limit) (*redis_rate.Result, error) {
	size := 1
	if class == "api" {
		size = leaseSize(limit)
	}
	now := time.Now()
	if size > 1 {
		if res, ok := r.leases.take(key, now); ok {
			return &res, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if size == 1 {
		return r.Limiter.Allow(ctx, key, limit)
	}
	res, err := r.Limiter.AllowAtMost(ctx, key, limit, size)
	if err != nil || res.Allowed == 0 {
		return res, err
	}
	kept := r.leases.keep(key, now, *res)
	return &kept, nil
}

func errLimiterUnavailable(err error) error {
	return errs.Unavailable("rate_limit.unavailable", "the rate limiter is unavailable; try again shortly", err)
}

// failureKey is where an address's failed authentications are counted.
func (r *RateLimits) failureKey(c *gin.Context) string {
	return r.Prefix + "ratelimit:authfail:" + byClientIP(c)
}

// failuresLeft reports how long an address must wait because its failed authentications spent the
// auth limit (0: it may try), without counting anything.
func (r *RateLimits) failuresLeft(c *gin.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 500*time.Millisecond)
	defer cancel()
	res, err := r.Limiter.AllowN(ctx, r.failureKey(c), r.Auth, 0)
	if err != nil {
		return 0, err
	}
	if res.Remaining >= 1 {
		return 0, nil
	}
	// Spent: asking for one more counts nothing (it is refused) and says when one is back.
	next, err := r.Limiter.AllowN(ctx, r.failureKey(c), r.Auth, 1)
	if err != nil {
		return 0, err
	}
	if next.Allowed > 0 { // one came back in between; it is spent now, as a failure would
		return 0, nil
	}
	return max(time.Second, next.RetryAfter), nil
}

// failed counts one failed authentication against the address.
func (r *RateLimits) failed(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := r.Limiter.AllowN(ctx, r.failureKey(c), r.Auth, 1); err != nil {
		r.Log.WarnContext(c.Request.Context(), "rate limiter unavailable: a failed authentication was not counted", "error", err)
	}
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

func byClientIP(c *gin.Context) string { return "ip:" + c.ClientIP() }

// byUser keys by the authenticated user; it runs after authenticate.
func byUser(c *gin.Context) string {
	if id := identity(c).GetUserId(); id != "" {
		return "user:" + id
	}
	return byClientIP(c)
}
