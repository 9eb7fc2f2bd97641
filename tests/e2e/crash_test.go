package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The event path under crashes: a steady stream of project creations through the gateway while the
// broker, a consumer or the producer is killed with SIGKILL and restarted. Every project that was
// created must reach audit exactly once and be searchable; each test reports how long that took
// after the restart.

// writer creates projects through the gateway from two clients, each at most one every 40 ms (a
// steady 50 a second), until it is stopped or has created max; a failed request is counted and
// retried, and only 201s count as created.
type writer struct {
	owner   account
	tag     string
	mu      sync.Mutex
	created []string
	failed  int
	stop    context.CancelFunc
	done    chan struct{}
}

func startWriter(t *testing.T, tag string, max int) *writer {
	t.Helper()
	owner := newAccount(t, tag)
	owner.subscribe(t, "enterprise") // hundreds of projects
	w := &writer{owner: owner, tag: fmt.Sprintf("%s%d", tag, time.Now().UnixNano()%1_000_000), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	w.stop = cancel
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for i := 0; w.count() < max; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				id, err := w.create(ctx, fmt.Sprintf("%s client %d project %d", w.tag, c, i))
				w.mu.Lock()
				if err != nil && ctx.Err() == nil {
					w.failed++
				} else if err == nil && len(w.created) < max {
					w.created = append(w.created, id)
				}
				w.mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); cancel(); close(w.done) }()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

func (w *writer) create(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "visibility": "private", "tags": []string{w.tag}})
	req, err := http.NewRequestWithContext(ctx, "POST", env.gatewayURL+"/v1/projects", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.owner.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var out struct{ Project project }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Project.ID, nil
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.created)
}

// waitCount waits until the writer has created n projects.
func (w *writer) waitCount(t *testing.T, n int) {
	t.Helper()
	if !eventually(2*time.Minute, 10*time.Millisecond, func() bool { return w.count() >= n }) {
		t.Fatalf("the writer created %d of %d projects (%d requests failed)", w.count(), n, w.failed)
	}
}

// finish stops the writer (or lets it reach its max) and returns what it created. A request cut off
// by the stop may still have created a project: those are not counted, and not checked.
func (w *writer) finish(t *testing.T, stop bool) []string {
	t.Helper()
	if stop {
		w.stop()
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.created...)
}

// expectDeliveredOnce waits until audit holds exactly one project.created record for each project
// and search finds every one of them, and returns how long that took from since. No project.created
// of any project is ever recorded twice.
func expectDeliveredOnce(t *testing.T, w *writer, ids []string, since time.Time) time.Duration {
	t.Helper()
	ctx := context.Background()
	db, err := pgx.Connect(ctx, env.auditDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var inAudit, searchable int
	var dupes []string
	ok := eventually(2*time.Minute, 100*time.Millisecond, func() bool {
		counts := map[string]int{}
		rows, err := db.Query(ctx, `SELECT subject, count(*) FROM audit_records WHERE type = 'project.created' AND subject = ANY($1) GROUP BY subject`, ids)
		if err != nil {
			return false
		}
		for rows.Next() {
			var s string
			var n int
			if rows.Scan(&s, &n) == nil {
				counts[s] = n
			}
		}
		if rows.Err() != nil {
			return false
		}
		inAudit, dupes = 0, nil
		for _, id := range ids {
			switch counts[id] {
			case 0:
			case 1:
				inAudit++
			default:
				dupes = append(dupes, id)
			}
		}
		if len(dupes) > 0 || inAudit < len(ids) {
			return len(dupes) > 0 // a duplicate will not go away: stop waiting
		}
		found := searchIDs(t, w)
		searchable = 0
		for _, id := range ids {
			if found[id] {
				searchable++
			}
		}
		return searchable == len(ids)
	})
	took := time.Since(since)
	if len(dupes) > 0 {
		t.Fatalf("audit recorded project.created more than once for %d projects: %v", len(dupes), dupes)
	}
	if !ok {
		t.Fatalf("after %s: %d of %d projects in audit, %d searchable", took.Round(time.Millisecond), inAudit, len(ids), searchable)
	}
	var anyDupes int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT subject FROM audit_records WHERE type = 'project.created' GROUP BY subject HAVING count(*) > 1) d`).Scan(&anyDupes); err != nil {
		t.Fatal(err)
	}
	if anyDupes > 0 {
		t.Fatalf("%d projects have more than one project.created record in audit", anyDupes)
	}
	return took
}

// searchIDs is every project search finds for the writer's tag, as its owner sees them.
func searchIDs(t *testing.T, w *writer) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	q := url.Values{"type": {"project"}, "tag": {w.tag}, "page_size": {"100"}, "sort": {"created_at"}}
	for page := 0; page < 100; page++ {
		var res searchResults
		r := request(t, "GET", "/v1/search?"+q.Encode(), nil, bearer(w.owner.token))
		if r.Status != http.StatusOK {
			return found // search is restarting; the caller asks again
		}
		r.decode(t, &res)
		for _, h := range res.Results {
			found[h.ID] = true
		}
		if res.NextPageToken == "" {
			break
		}
		q.Set("page_token", res.NextPageToken)
	}
	return found
}

// pendingInOutbox counts the projects outbox's unpublished events.
func pendingInOutbox(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	db, err := pgx.Connect(ctx, env.projectsDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCrash_BrokerKilledUnderWrites(t *testing.T) {
	w := startWriter(t, "crash-broker", 2000)
	w.waitCount(t, 50)
	env.broker.Kill()
	killed := time.Now()
	// Writes go on while the broker is down: they land in the outbox.
	w.waitCount(t, 100)
	restarting := time.Now()
	if err := env.broker.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	before := w.count()
	// And after it is back.
	w.waitCount(t, before+50)
	ids := w.finish(t, true)
	took := expectDeliveredOnce(t, w, ids, restarted)
	t.Logf("broker SIGKILLed for %.1fs (its restart took %.1fs of that) while %d projects were created; %d created in all; every one in audit once and searchable %.1fs after the broker answered again (%d requests failed and were retried)",
		restarted.Sub(killed).Seconds(), restarted.Sub(restarting).Seconds(), before-50, len(ids), took.Seconds(), w.failed)
}

func TestCrash_ConsumersKilledUnderWrites(t *testing.T) {
	for _, app := range []string{"audit", "search"} {
		t.Run(app, func(t *testing.T) {
			w := startWriter(t, "crash-"+app, 2000)
			w.waitCount(t, 30)
			if err := env.topo.KillApp(app); err != nil {
				t.Fatal(err)
			}
			w.waitCount(t, 60)
			start := time.Now()
			if err := env.topo.StartAgain(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			healthy := time.Since(start)
			w.waitCount(t, w.count()+30)
			ids := w.finish(t, true)
			took := expectDeliveredOnce(t, w, ids, start)
			t.Logf("%s and its sidecar SIGKILLed after 30 creations and restarted after 60; healthy again in %.1fs; 30 more created; all %d in audit once and searchable %.1fs after the restart",
				app, healthy.Seconds(), len(ids), took.Seconds())
		})
	}
}

// The projects app and its sidecar die with events committed to the outbox but not yet published
// (the broker is down, so none can be): once both are back, the relay publishes them.
func TestCrash_ProducerKilledBetweenCommitAndPublish(t *testing.T) {
	env.broker.Kill()
	brokerUp := false
	t.Cleanup(func() {
		if !brokerUp {
			_ = env.broker.Restart()
		}
	})
	before := pendingInOutbox(t)
	w := startWriter(t, "crash-producer", 20)
	ids := w.finish(t, false)
	if pending := pendingInOutbox(t); pending < before+len(ids) {
		t.Fatalf("%d events wait in the outbox, want at least %d: the broker was down, nothing could be published", pending, before+len(ids))
	}
	if err := env.topo.KillApp("projects"); err != nil {
		t.Fatal(err)
	}
	if err := env.broker.Restart(); err != nil {
		t.Fatal(err)
	}
	brokerUp = true
	start := time.Now()
	if err := env.topo.StartAgain(t.Context(), "projects"); err != nil {
		t.Fatal(err)
	}
	took := expectDeliveredOnce(t, w, ids, start)
	if pending := pendingInOutbox(t); pending != 0 {
		t.Errorf("%d events still wait in the outbox", pending)
	}
	t.Logf("projects SIGKILLed with %d committed, unpublished events; all in audit once and searchable %.1fs after it restarted",
		len(ids), took.Seconds())
}
