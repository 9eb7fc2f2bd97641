// Command load is make bench: it starts the topology the way the e2e suite does (every app of
// dapr.yaml with its daprd, on free ports, against make infra's PostgreSQL, Redis and Kafka) and,
// beside it, the bare two-sidecar path: a trivial HTTP app behind its daprd, called through a
// second daprd's invoke API. Then, alternately in one run, it puts the same closed-loop load on the
// bare path and on the platform's authenticated reads through the gateway, and prints each route's
// throughput and latency and its ratio to the bare path measured in the same round.
//
// It is a benchmark, never a test: nothing here passes or fails on a timing. It is bounded: every
// measurement runs for -duration, the whole run gives up after -timeout.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
	"github.com/acme/platform/services/platform/postgres"
)

func main() {
	daprd := flag.String("daprd", os.Getenv("DAPRD"), "daprd binary (make sidecar builds it)")
	duration := flag.Duration("duration", 8*time.Second, "how long each measurement runs")
	rounds := flag.Int("rounds", 2, "how many times each route is measured, alternating with the others")
	timeout := flag.Duration("timeout", 12*time.Minute, "give up after this long")
	events := flag.Int("events", 1000, "project creations whose event path is measured (0: none)")
	profile := flag.Bool("profile", false, "then take CPU profiles of gateway, projects and users under load (pprof, in .data/bench/profiles)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, *daprd, *duration, *rounds, *events, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, daprd string, duration time.Duration, rounds, events int, profile bool) error {
	if daprd == "" {
		return fmt.Errorf("no daprd: run make bench (it builds the sidecar)")
	}
	logDir := filepath.Join(".data", "bench", "logs", time.Now().Format("20060102-150405"))
	echo := func(id string, port int) launcher.AppSpec {
		return launcher.AppSpec{AppID: id, AppDirPath: "tests/load/echo", AppPort: port, AppProtocol: "http",
			Command: []string{"go", "run", "."}}
	}
	env := appEnv(profile)
	// Fresh databases, as the e2e suite has, dropped at the end: a run neither reads what earlier runs
	// left (each leaves a thousand projects of one user, which skewed the planner's statistics: the
	// project list was planned anew on every call, PostgreSQL's generic plan looking costlier) nor
	// leaves its own in make run's databases. Billing keeps make run's (its URL is a secret).
	dbs, dropDBs, err := postgres.CreateDatabases(ctx, "acme_bench", "users", "projects", "audit", "files")
	if err != nil {
		return err
	}
	defer dropDBs(context.Background())
	for app, url := range dbs {
		if env[app] == nil {
			env[app] = map[string]string{}
		}
		env[app]["DATABASE_URL"] = url
	}
	start := time.Now()
	topo, err := launcher.Start(ctx, "dapr.yaml", launcher.Options{
		Daprd: daprd, LogDir: logDir, Console: io.Discard, FreePorts: true, ProfileSidecars: profile,
		// The routes are measured, not the rate limiter: limits far above what two cores can serve.
		Env:   env,
		Extra: []launcher.AppSpec{echo("bench-echo", 50198), echo("bench-caller", 50197)},
	})
	if err != nil {
		return fmt.Errorf("topology: %w (logs in %s)", err, logDir)
	}
	defer topo.Stop()
	fmt.Printf("topology healthy in %.1fs; logs in %s\n", time.Since(start).Seconds(), logDir)

	gateway := fmt.Sprintf("http://127.0.0.1:%d", topo.App("gateway").AppPort)
	token, projectID, err := signUp(ctx, gateway)
	if err != nil {
		return err
	}
	caller := topo.App("bench-caller")
	bearer := map[string]string{"Authorization": "Bearer " + token}
	routes := []route{
		{name: "bare two-sidecar path", url: fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/bench-echo/method/ping", caller.HTTPPort),
			header: map[string]string{"dapr-api-token": caller.APIToken}},
		{name: "GET /v1/projects/{id}", url: gateway + "/v1/projects/" + projectID, header: bearer},
		{name: "GET /v1/users/me", url: gateway + "/v1/users/me", header: bearer},
		{name: "GET /v1/projects", url: gateway + "/v1/projects", header: bearer},
	}
	meter := newCPUMeter(topo)
	results := map[int]map[string][]result{}
	for _, c := range []int{1, 16} {
		results[c] = map[string][]result{}
		for r := range rounds {
			for _, rt := range routes {
				if err := ctx.Err(); err != nil {
					return err
				}
				before := meter.sample()
				res, err := measure(ctx, rt, c, duration)
				if err != nil {
					return fmt.Errorf("%s at c=%d: %w", rt.name, c, err)
				}
				res.cpu = perRequest(before, meter.sample(), res.requests)
				fmt.Printf("round %d c=%-2d %-24s %7.0f rps  p50 %6.2f ms  p99 %6.2f ms\n", r+1, c, rt.name, res.rps, ms(res.p50), ms(res.p99))
				results[c][rt.name] = append(results[c][rt.name], res)
			}
		}
	}
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "load\troute\trps\tp50 ms\tp99 ms\tratio to bare")
	for _, c := range []int{1, 16} {
		bare := best(results[c][routes[0].name])
		for _, rt := range routes {
			b := best(results[c][rt.name])
			fmt.Fprintf(w, "c=%d\t%s\t%.0f\t%.2f\t%.2f\t%.2f\n", c, rt.name, b.rps, ms(b.p50), ms(b.p99), b.rps/bare.rps)
		}
	}
	_ = w.Flush()
	fmt.Printf("\nEach figure is the best of %d rounds of %s, the routes alternating; ratio = route rps / bare rps at the same load.\n", rounds, duration)
	for _, c := range []int{1, 16} {
		fmt.Printf("\nCPU per request at c=%d, µs, by process (the best round of each route; processes under 5 µs left out):\n", c)
		printCPU(results[c], routes)
	}
	if events > 0 {
		if err := eventPath(ctx, gateway, token, env["audit"]["DATABASE_URL"], events, duration); err != nil {
			return fmt.Errorf("event path: %w", err)
		}
	}
	if profile {
		return profiles(ctx, topo, routes[1], routes[2], routes[3])
	}
	return nil
}

// appEnv raises the gateway's limits far above what two cores can serve (the routes are measured,
// not the rate limiter) and, for profiling, turns on /debug/pprof where it is looked at.
func appEnv(profile bool) map[string]map[string]string {
	env := map[string]map[string]string{"gateway": {"RATE_LIMIT_API": "10000000/m", "RATE_LIMIT_AUTH": "10000000/m"}}
	if profile {
		for _, app := range []string{"gateway", "projects", "users"} {
			if env[app] == nil {
				env[app] = map[string]string{}
			}
			env[app]["ENABLE_PROFILING"] = "true"
		}
	}
	return env
}

// profiles takes 6-second CPU profiles of the apps serving each route while it runs at c=16, and
// prints the top of each; the files go to .data/bench/profiles/<time>/<route>.
func profiles(ctx context.Context, topo *launcher.Topology, project, me, list route) error {
	base := filepath.Join(".data", "bench", "profiles", time.Now().Format("20060102-150405"))
	for _, job := range []struct {
		rt   route
		apps []string // an app, or "<app> daprd" for its sidecar
	}{{project, []string{"gateway", "projects", "gateway daprd", "projects daprd"}}, {me, []string{"users"}}, {list, []string{"gateway", "projects"}}} {
		// One folder per route: "GET /v1/projects/{id}" → GET_v1_projects_id.
		dir := filepath.Join(base, strings.Trim(strings.NewReplacer(" /", "_", "/", "_", "{", "", "}", "").Replace(job.rt.name), "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		load := make(chan error, 1)
		go func() { _, err := measure(ctx, job.rt, 16, 8*time.Second); load <- err }()
		var wg sync.WaitGroup
		errc := make(chan error, len(job.apps))
		for _, app := range job.apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				port := 0
				if id, ok := strings.CutSuffix(app, " daprd"); ok {
					port = topo.App(id).ProfilePort
				} else {
					port = topo.App(app).AppMetricsPort
				}
				errc <- fetchProfile(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=6", port), filepath.Join(dir, file(app)))
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				return err
			}
		}
		if err := <-load; err != nil {
			return err
		}
		for _, app := range job.apps {
			path := filepath.Join(dir, file(app))
			out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", path).CombinedOutput()
			if err != nil {
				return fmt.Errorf("pprof %s: %w\n%s", app, err, out)
			}
			fmt.Printf("\n%s under %s at c=16 (%s):\n%s", app, job.rt.name, path, out)
		}
	}
	return nil
}

// file is where a profile of app ("gateway", "gateway daprd") is written.
func file(app string) string { return strings.ReplaceAll(app, " ", "-") + ".pprof" }

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printCPU(results map[string][]result, routes []route) {
	names := map[string]bool{}
	for _, rt := range routes {
		for name, d := range best(results[rt.name]).cpu {
			if d >= 5*time.Microsecond {
				names[name] = true
			}
		}
	}
	sortedNames := slices.Sorted(maps.Keys(names))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "process\t"
	for _, rt := range routes {
		header += rt.name + "\t"
	}
	fmt.Fprintln(w, header)
	totals := make([]time.Duration, len(routes))
	for _, name := range sortedNames {
		line := name + "\t"
		for i, rt := range routes {
			d := best(results[rt.name]).cpu[name]
			totals[i] += d
			line += fmt.Sprintf("%d\t", d.Microseconds())
		}
		fmt.Fprintln(w, line)
	}
	line := "total\t"
	for _, d := range totals {
		line += fmt.Sprintf("%d\t", d.Microseconds())
	}
	fmt.Fprintln(w, line)
	_ = w.Flush()
}

type route struct {
	name, url string
	header    map[string]string
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	// requests is every request answered, warm-up included; cpu is what each process spent per
	// request over the same window.
	requests int
	cpu      map[string]time.Duration
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// best is the round with the most throughput (the least disturbed by the machine's other work).
func best(rs []result) result {
	return slices.MaxFunc(rs, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
}

// measure runs c workers, each sending the next request when the last is answered, for d after a
// short warm-up, and answers the throughput and the latency percentiles. Any answer but 200 fails
// the measurement: a refused request is no data point.
func measure(ctx context.Context, rt route, c int, d time.Duration) (result, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	warm := time.Now().Add(d / 8)
	end := warm.Add(d)
	var mu sync.Mutex
	var lat []time.Duration
	requests := 0
	var firstErr error
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			n := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				err := get(ctx, client, rt)
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				if t0.After(warm) {
					mine = append(mine, time.Since(t0))
				}
				n++
			}
			mu.Lock()
			lat = append(lat, mine...)
			requests += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no request completed")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	return result{rps: float64(len(lat)) / d.Seconds(), p50: pct(0.50), p99: pct(0.99), requests: requests}, nil
}

func get(ctx context.Context, client *http.Client, rt route) error {
	req, err := http.NewRequestWithContext(ctx, "GET", rt.url, nil)
	if err != nil {
		return err
	}
	for k, v := range rt.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// signUp registers an account, signs in and creates a project: what the routes read.
func signUp(ctx context.Context, gateway string) (token, projectID string, err error) {
	email := fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano())
	const password = "bench-horse-battery-staple-42"
	if err := call(ctx, "POST", gateway+"/v1/users", "", map[string]any{"email": email, "password": password,
		"display_name": "Bench", "region": "eu"}, http.StatusCreated, nil); err != nil {
		return "", "", err
	}
	var session struct {
		AccessToken string `json:"access_token"`
	}
	if err := call(ctx, "POST", gateway+"/v1/auth/login", "", map[string]any{"email": email, "password": password}, http.StatusOK, &session); err != nil {
		return "", "", err
	}
	id, err := createProject(ctx, gateway, session.AccessToken, "Bench")
	return session.AccessToken, id, err
}

func call(ctx context.Context, method, url, token string, body any, want int, out any, header ...string) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
