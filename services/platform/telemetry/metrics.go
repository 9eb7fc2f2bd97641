package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
)

// SetupMetrics installs the global OTel meter provider with a Prometheus exporter and, when addr is
// set, serves /metrics there (APP_METRICS_PORT; Kubernetes scrapes it). The returned function stops
// the server. With profiling, the same server also answers Go's /debug/pprof/ (ENABLE_PROFILING: off
// by default; the load harness turns it on to profile the request path).
func SetupMetrics(addr string, profiling bool) (func(context.Context) error, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	// No exemplars: nothing here stores them (Prometheus keeps them only with a feature flag), and
	// offering one walked each measurement's context for a sampled span: 6 % of a backend's CPU per
	// request, most of it in the per-statement SQL histogram.
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter)))
	if addr == "" {
		return func(context.Context) error { return nil }, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			otel.Handle(err)
		}
	}()
	return srv.Shutdown, nil
}
