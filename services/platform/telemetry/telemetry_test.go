package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A line logged within a span carries the span's trace_id and span_id (also when the span is not
// recorded), and the request id; a line logged outside any span carries neither id.
func TestLogLinesCarryTheirTrace(t *testing.T) {
	for name, sampler := range map[string]sdktrace.Sampler{"recorded": sdktrace.AlwaysSample(), "not recorded": sdktrace.NeverSample()} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := NewLogger(&buf, "projects", "info")
			tracer := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler)).Tracer("test")
			ctx, span := tracer.Start(WithRequestID(context.Background(), "req-1"), "op")
			log.InfoContext(ctx, "inside")
			span.End()
			log.InfoContext(context.Background(), "outside")

			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			if len(lines) != 2 {
				t.Fatalf("%d lines: %s", len(lines), buf.String())
			}
			var in, out map[string]any
			if err := json.Unmarshal(lines[0], &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(lines[1], &out); err != nil {
				t.Fatal(err)
			}
			sc := span.SpanContext()
			if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() || in["request_id"] != "req-1" || in["app"] != "projects" {
				t.Errorf("inside the span: %v, want trace %s span %s", in, sc.TraceID(), sc.SpanID())
			}
			if _, ok := out["trace_id"]; ok {
				t.Errorf("outside any span: %v", out)
			}
		})
	}
}
