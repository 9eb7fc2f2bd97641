package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Passes are counted by outcome, their items by result, and the last success is a timestamp, under
// the names the rules and the dashboard read (as the Prometheus exporter writes them).
func TestPass_RecordsOutcomesItemsAndLastSuccess(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)))
	ctx := context.Background()
	before := float64(time.Now().Unix())
	items, err := Pass(ctx, "billing.close_periods", func(context.Context) (Items, error) { return Items{"invoiced": 3, "skipped": 0}, nil })
	if err != nil || items["invoiced"] != 3 {
		t.Fatalf("Pass returned %v, %v", items, err)
	}
	boom := errors.New("stripe down")
	if _, err := Pass(ctx, "billing.close_periods", func(context.Context) (Items, error) { return Items{"invoiced": 1}, boom }); !errors.Is(err, boom) {
		t.Fatalf("Pass returned %v, want the pass's error", err)
	}
	if _, err := Pass(ctx, "files.finish_uploads", func(context.Context) (Items, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	want := `
# HELP acme_job_items_total What a periodic job's passes handled, by result.
# TYPE acme_job_items_total counter
acme_job_items_total{job_name="billing.close_periods",result="invoiced"} 4
# HELP acme_job_runs_total Passes of a periodic job, by outcome.
# TYPE acme_job_runs_total counter
acme_job_runs_total{job_name="billing.close_periods",outcome="failure"} 1
acme_job_runs_total{job_name="billing.close_periods",outcome="success"} 1
acme_job_runs_total{job_name="files.finish_uploads",outcome="failure"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "acme_job_items_total", "acme_job_runs_total"); err != nil {
		t.Error(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		if f.GetName() != "acme_job_last_success_timestamp_seconds" {
			continue
		}
		if len(f.GetMetric()) != 1 { // the failing job never succeeded: no series
			t.Fatalf("last success recorded for %d jobs, want 1", len(f.GetMetric()))
		}
		if v := f.GetMetric()[0].GetGauge().GetValue(); v < before || v > float64(time.Now().Unix()+1) {
			t.Errorf("last success at %v, want about now", v)
		}
	}
	for _, name := range []string{"acme_job_last_success_timestamp_seconds", "acme_job_run_seconds"} {
		if !seen[name] {
			t.Errorf("no %s among %v", name, seen)
		}
	}
}
