package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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

// The edge sampler decides by trace id at the configured rate whatever the caller's flag says,
// keeps the caller's trace id, and lets a child in the process follow its parent.
func TestEdgeSamplerIgnoresTheCallersFlag(t *testing.T) {
	started := func(s sdktrace.Sampler, parent trace.SpanContext) trace.SpanContext {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s))
		ctx, span := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "server")
		defer span.End()
		_, child := tp.Tracer("test").Start(ctx, "child")
		defer child.End()
		if child.SpanContext().IsSampled() != span.SpanContext().IsSampled() {
			t.Errorf("a child in the process decided apart from its parent")
		}
		return span.SpanContext()
	}
	remote := func(id byte, flags trace.TraceFlags) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{id, 1, 2, 3, 4, 5, 6, 7, 8}, SpanID: trace.SpanID{1}, TraceFlags: flags, Remote: true})
	}
	for _, c := range []struct {
		sampler, arg string
		want         bool
	}{
		{"parentbased_traceidratio", "0", false},
		{"traceidratio", "0", false},
		{"parentbased_always_off", "", false},
		{"parentbased_always_on", "", true},
		{"parentbased_traceidratio", "1", true},
		{"parentbased_traceidratio", "not a number", true},
		{"parentbased_traceidratio", "7", true},
		{"", "", true},
	} {
		s := EdgeSampler(c.sampler, c.arg)
		for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
			parent := remote(9, flags)
			got := started(s, parent)
			if got.IsSampled() != c.want || got.TraceID() != parent.TraceID() {
				t.Errorf("%s(%q), caller's flags %v: sampled %v in trace %s, want sampled %v in the caller's trace", c.sampler, c.arg, flags, got.IsSampled(), got.TraceID(), c.want)
			}
		}
	}
	// At a ratio, each trace id gets one answer whatever the flag, and both answers occur.
	s, seen := EdgeSampler("parentbased_traceidratio", "0.5"), map[bool]int{}
	for i := range 200 {
		id := trace.TraceID{0: 0xac} // never all zeros: that is no trace id, and the SDK would start a new trace
		id[8], id[9], id[15] = byte(i), byte(i*37), byte(i*101)
		on := started(s, trace.NewSpanContext(trace.SpanContextConfig{TraceID: id, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true}))
		off := started(s, trace.NewSpanContext(trace.SpanContextConfig{TraceID: id, SpanID: trace.SpanID{1}, Remote: true}))
		if on.IsSampled() != off.IsSampled() {
			t.Fatalf("trace %s: the caller's flag changed the decision", id)
		}
		seen[on.IsSampled()]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Errorf("at 0.5 every trace got the same answer: %v", seen)
	}
}
