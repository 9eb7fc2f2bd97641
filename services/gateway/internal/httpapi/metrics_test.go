package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The request-duration histogram (RED per route) carries the matched route's template, and a path
// that matches no route adds no route label.
func TestRequestMetricsCarryTheRoute(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	h := (&API{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	for _, path := range []string{"/healthz", "/v1/projects/not-an-id", "/no/such/path"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				route, _ := p.Attributes.Value("http.route")
				routes[route.AsString()] += p.Count
			}
		}
	}
	want := map[string]uint64{"/healthz": 1, "/v1/projects/:id": 1, "": 1}
	for route, n := range want {
		if routes[route] != n {
			t.Errorf("route %q: %d requests, want %d (all: %v)", route, routes[route], n, routes)
		}
	}
}
