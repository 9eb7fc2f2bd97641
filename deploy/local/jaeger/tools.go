//go:build tools

// Package jaeger pins the trace store `make run` starts: Jaeger v2 (an OpenTelemetry Collector
// distribution with Jaeger's storage and query API), built from the Go module proxy by jaeger.sh.
package jaeger

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
