// Package jobs records the outcome of the periodic work services do beside their requests
// (closing billing periods, mirroring invoices to Stripe, reconciling with Stripe, finishing and
// expiring uploads), so a job that keeps failing, or stops running, shows on the dashboard and
// pages through the platform's rules:
//   - acme_job_runs_total{job_name, outcome}: passes, by success or failure;
//   - acme_job_run_seconds{job_name}: how long a pass took;
//   - acme_job_items_total{job_name, result}: what passes handled (invoiced, repaired, finished, …);
//   - acme_job_last_success_timestamp_seconds{job_name}: when a pass last succeeded (Unix time).
//
// The label is job_name, not job: Prometheus sets job to the scrape job's name and would rename
// ours to exported_job (as kube-state-metrics names its Job label job_name for the same reason).
package jobs

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Items counts what one pass handled, by result.
type Items map[string]int

var instruments = sync.OnceValue(func() (i struct {
	runs, items metric.Int64Counter
	duration    metric.Float64Histogram
	lastSuccess metric.Float64Gauge
}) {
	m := otel.Meter("acme/jobs")
	i.runs, _ = m.Int64Counter("acme_job_runs", metric.WithDescription("Passes of a periodic job, by outcome."))
	i.items, _ = m.Int64Counter("acme_job_items", metric.WithDescription("What a periodic job's passes handled, by result."))
	i.duration, _ = m.Float64Histogram("acme_job_run", metric.WithUnit("s"), metric.WithDescription("How long a pass of a periodic job took."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))
	i.lastSuccess, _ = m.Float64Gauge("acme_job_last_success_timestamp_seconds", metric.WithUnit("s"),
		metric.WithDescription("When a pass of a periodic job last succeeded, in Unix time."))
	return i
})

// Pass runs one pass of job and records it; it returns what fn returned. A pass that handled items
// and then failed counts both: the items it handled, and a failure.
func Pass(ctx context.Context, job string, fn func(context.Context) (Items, error)) (Items, error) {
	start := time.Now()
	items, err := fn(ctx)
	i, name := instruments(), attribute.String("job_name", job)
	i.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(name))
	for result, n := range items {
		if n > 0 {
			i.items.Add(ctx, int64(n), metric.WithAttributes(name, attribute.String("result", result)))
		}
	}
	outcome := "success"
	if err != nil {
		outcome = "failure"
	} else {
		i.lastSuccess.Record(ctx, float64(time.Now().UnixMilli())/1000, metric.WithAttributes(name))
	}
	i.runs.Add(ctx, 1, metric.WithAttributes(name, attribute.String("outcome", outcome)))
	return items, err
}
