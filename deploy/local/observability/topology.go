package observability

import (
	"fmt"

	"github.com/acme/platform/deploy/local/launcher"
)

// TopologyTargets lists each app's own metrics endpoint (APP_METRICS_PORT) and its sidecar's.
func TopologyTargets(apps []*launcher.App) []Target {
	var out []Target
	for _, a := range apps {
		out = append(out,
			Target{App: a.Spec.AppID, Component: "app", Addr: fmt.Sprintf("127.0.0.1:%d", a.AppMetricsPort)},
			Target{App: a.Spec.AppID, Component: "daprd", Addr: fmt.Sprintf("127.0.0.1:%d", a.MetricsPort)})
	}
	return out
}

// ExportEnv is what an app needs to send its spans to the store: the OTLP endpoint (plain gRPC on
// loopback). Every app records the traces its callers sample.
func (s *TraceStore) ExportEnv() map[string]string {
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + s.OTLPEndpoint}
}
