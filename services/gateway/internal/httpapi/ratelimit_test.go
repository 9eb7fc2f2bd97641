package httpapi

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string][2]any{"20/m": {20, time.Minute}, "600/1m": {600, time.Minute},
		"5/10s": {5, 10 * time.Second}, " 1/h ": {1, time.Hour}} {
		l, err := ParseLimit(in)
		if err != nil || l.Rate != want[0].(int) || l.Burst != l.Rate || l.Period != want[1].(time.Duration) {
			t.Errorf("%q: %+v %v", in, l, err)
		}
	}
	for _, bad := range []string{"", "20", "0/m", "-1/m", "x/m", "5/", "5/fortnight", "5/-1s"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLeaseSize_OnePercentOfTheLimitAtMost16(t *testing.T) {
	for rate, want := range map[int]int{5: 1, 199: 1, 200: 2, 600: 6, 1000: 10, 20000: 16, 10_000_000: 16} {
		if got := leaseSize(redis_rate.Limit{Rate: rate, Burst: rate, Period: time.Minute}); got != want {
			t.Errorf("rate %d: lease of %d, want %d", rate, got, want)
		}
	}
}

// A lease admits as many requests as Redis granted beyond the first, until it lapses; the headers
// count the tokens held as remaining; a second lease taken meanwhile adds to the first.
func TestLeases_SpendWhatWasGrantedUntilTheyLapse(t *testing.T) {
	var ls leases
	now := time.Now()
	if _, ok := ls.take("k", now); ok {
		t.Fatal("admitted without a lease")
	}
	res := ls.keep("k", now, redis_rate.Result{Allowed: 4, Remaining: 10})
	if res.Remaining != 13 {
		t.Fatalf("remaining %d after a lease of 4 (one spent) with 10 left in Redis, want 13", res.Remaining)
	}
	for i := 12; i >= 10; i-- {
		res, ok := ls.take("k", now)
		if !ok || res.Remaining != i {
			t.Fatalf("take: %v, remaining %d, want %d", ok, res.Remaining, i)
		}
	}
	if _, ok := ls.take("k", now); ok {
		t.Fatal("admitted beyond the lease")
	}
	ls.keep("k", now, redis_rate.Result{Allowed: 3, Remaining: 5})
	ls.keep("k", now, redis_rate.Result{Allowed: 3, Remaining: 2})
	n := 0
	for {
		if _, ok := ls.take("k", now); !ok {
			break
		}
		n++
	}
	if n != 4 {
		t.Fatalf("two leases of 3 (each with one spent) admitted %d, want 4", n)
	}
	ls.keep("k", now, redis_rate.Result{Allowed: 5})
	if _, ok := ls.take("k", now.Add(leaseTTL)); ok {
		t.Fatal("a lapsed lease admitted a request")
	}
}

// Two replicas, eight callers each, spend one user's limit through leases against the real Redis:
// together they never admit more than the limit, and refuse early by at most what their leases
// held. Twenty rounds, each on a key of its own.
func TestRateLimits_LeasesNeverAdmitMoreThanTheSharedLimit(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 6})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis on 127.0.0.1:6379 (make infra starts it): %v", err)
	}
	limit := redis_rate.Limit{Rate: 1000, Burst: 1000, Period: time.Hour}
	size := leaseSize(limit)
	prefix := fmt.Sprintf("leasetest-%d:", time.Now().UnixNano())
	for round := range 20 {
		replicas := []*RateLimits{
			{Limiter: redis_rate.NewLimiter(rdb), API: limit, Prefix: prefix},
			{Limiter: redis_rate.NewLimiter(rdb), API: limit, Prefix: prefix},
		}
		key := fmt.Sprintf("%sratelimit:api:user:%d", prefix, round)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					res, err := replicas[g%2].allow(context.Background(), "api", key, limit)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Allowed > 0 {
						admitted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		// What trickles back meanwhile: 1000 an hour.
		trickle := int64(time.Since(start).Seconds()*1000/3600) + 1
		if n := admitted.Load(); n > int64(limit.Burst)+trickle || n < int64(limit.Burst-2*(size-1)) {
			t.Fatalf("round %d: admitted %d; want at most %d and at least %d", round, n, int64(limit.Burst)+trickle, limit.Burst-2*(size-1))
		}
	}
	keys, _ := rdb.Keys(context.Background(), "rate:"+prefix+"*").Result()
	if len(keys) > 0 {
		rdb.Del(context.Background(), keys...)
	}
}
