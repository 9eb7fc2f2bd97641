package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// eventPath measures what follows a write: from a project's creation (its 201) to its being found
// by search, and to its project.created record in audit, over n creations one after another; then
// a burst of creations at c=16 for d, to see how fast the outbox takes writes and how soon the relay
// has delivered all of them (to audit, read in its database at auditDB).
func eventPath(ctx context.Context, gateway, token, auditDB string, n int, d time.Duration) error {
	pool, err := pgxpool.New(ctx, auditDB)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Enough projects for the run: the enterprise plan has no project limit.
	if err := call(ctx, "POST", gateway+"/v1/billing/subscription", token, map[string]any{"plan": "enterprise"}, http.StatusCreated, nil,
		"Idempotency-Key", uuid.NewString()); err != nil {
		return err
	}
	audited := func(ctx context.Context, id string) (bool, error) {
		var k int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_records WHERE subject = $1 AND type = 'project.created'`, id).Scan(&k)
		return k > 0, err
	}
	searchable := func(ctx context.Context, name, id string) (bool, error) {
		var res struct {
			Results []hit `json:"results"`
		}
		q := url.Values{"q": {name}, "type": {"project"}, "page_size": {"100"}}
		if err := call(ctx, "GET", gateway+"/v1/search?"+q.Encode(), token, nil, http.StatusOK, &res); err != nil {
			return false, err
		}
		return slices.Contains(res.Results, hit{ID: id}), nil
	}
	var toSearch, toAudit []time.Duration
	run := fmt.Sprintf("%x", time.Now().UnixNano()%0xffffff)
	for i := range n {
		name := fmt.Sprintf("Evt%s n%d", run, i)
		id, err := createProject(ctx, gateway, token, name)
		if err != nil {
			return err
		}
		created := time.Now()
		var wg sync.WaitGroup
		var errS, errA error
		wg.Add(2)
		go func() {
			defer wg.Done()
			var lat time.Duration
			lat, errS = waitFor(ctx, created, func(ctx context.Context) (bool, error) { return searchable(ctx, name, id) })
			toSearch = append(toSearch, lat)
		}()
		go func() {
			defer wg.Done()
			var lat time.Duration
			lat, errA = waitFor(ctx, created, func(ctx context.Context) (bool, error) { return audited(ctx, id) })
			toAudit = append(toAudit, lat)
		}()
		wg.Wait()
		if errS != nil || errA != nil {
			return fmt.Errorf("event %d: search %v, audit %v", i, errS, errA)
		}
	}
	fmt.Printf("\nEvent path over %d project creations, one after another (polled every 2 ms: search through the gateway, audit in its database):\n", n)
	for _, m := range []struct {
		name string
		lat  []time.Duration
	}{{"create -> searchable", toSearch}, {"create -> audited", toAudit}} {
		slices.Sort(m.lat)
		fmt.Printf("  %-22s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", m.name, ms(m.lat[len(m.lat)/2]),
			ms(m.lat[min(len(m.lat)-1, len(m.lat)*99/100)]), ms(m.lat[len(m.lat)-1]))
	}

	// The burst: creations at c=16 for d; each commits its project and its events in one
	// transaction, and the relay publishes them from the outbox.
	start := time.Now()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < d && ctx.Err() == nil; i++ {
				id, err := createProject(ctx, gateway, token, fmt.Sprintf("Burst%s w%d n%d", run, w, i))
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	written := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	for _, id := range ids { // all of them, not only the last: partitions relay independently
		if _, err := waitFor(ctx, start, func(ctx context.Context) (bool, error) { return audited(ctx, id) }); err != nil {
			return fmt.Errorf("burst: %s never audited: %w", id, err)
		}
	}
	delivered := time.Since(start)
	fmt.Printf("\nOutbox under a burst of creations at c=16 for %s: %d projects written (%.0f/s, each with its events in the same transaction); all of them audited %.1fs after the burst began (%.0f events/s through the relay, Kafka and audit)\n",
		d, len(ids), float64(len(ids))/written.Seconds(), delivered.Seconds(), float64(len(ids))/delivered.Seconds())
	return nil
}

// hit is a search result, by its id.
type hit struct {
	ID string `json:"id"`
}

// waitFor polls cond every 2 ms, up to 30 s, and answers the time from since until it held.
func waitFor(ctx context.Context, since time.Time, cond func(context.Context) (bool, error)) (time.Duration, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond(ctx)
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Since(since), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not within 30s")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func createProject(ctx context.Context, gateway, token, name string) (string, error) {
	var created struct {
		Project struct {
			ID string `json:"id"`
		} `json:"project"`
	}
	err := call(ctx, "POST", gateway+"/v1/projects", token, map[string]any{"name": name, "visibility": "private"}, http.StatusCreated, &created)
	return created.Project.ID, err
}
