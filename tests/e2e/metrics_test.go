package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

// Prometheus, configured from the running topology, scrapes every app and every sidecar, and what
// the rules and the dashboard read arrives: billing's and files' job passes (the suite runs them
// every second or so), the sidecars' own metrics, the consumers' handling times.
func TestMetrics_EveryAppAndSidecarIsScrapedAndReports(t *testing.T) {
	var health map[string]string
	ok := eventually(30*time.Second, 250*time.Millisecond, func() bool {
		var err error
		if health, err = env.prom.Targets(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, h := range health {
			if h != "up" {
				return false
			}
		}
		return len(health) > 0
	})
	var apps []string
	for _, a := range env.topo.Apps {
		if a.Spec.AppID != "eventsink" {
			apps = append(apps, a.Spec.AppID)
		}
	}
	sort.Strings(apps)
	for _, app := range apps {
		for _, job := range []string{"acme-apps", "acme-sidecars"} {
			if health[job+"/"+app] == "" {
				t.Errorf("Prometheus does not scrape %s of %s; its targets: %v", job, app, health)
			}
		}
	}
	if !ok || len(health) != 2*len(apps) {
		t.Fatalf("targets %v, want all %d up", health, 2*len(apps))
	}

	for _, q := range []string{
		`acme_job_runs_total{app="billing",job_name="billing.close_periods",outcome="success"}`,
		`acme_job_runs_total{app="billing",job_name="billing.mirror_invoices",outcome="success"}`,
		`acme_job_runs_total{app="files",job_name="files.finish_uploads",outcome="success"}`,
		`acme_job_last_success_timestamp_seconds{app="files",job_name="files.expire_uploads"}`,
		`dapr_runtime_component_loaded{app="projects",component="daprd"}`,
		`rpc_server_call_duration_seconds_count{app="projects",component="app"}`,
	} {
		var n float64
		if !eventually(20*time.Second, 250*time.Millisecond, func() bool { n = promValue(t, fmt.Sprintf("sum(%s)", q)); return n > 0 }) {
			t.Errorf("%s: nothing in Prometheus", q)
		}
	}
}
