// Package telemetry sets up what every service reports: JSON logs through slog and OpenTelemetry
// traces. Traces are exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the collector Dapr's
// Configuration also points at); otherwise spans are still created and propagated, but not exported.
package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id that every log line of the request repeats.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// contextHandler adds to every record logged with a context what the context knows of its request:
// request_id, and the trace_id and span_id of the current span (W3C hex), so a log line leads to its
// trace. Spans that are not recorded still have ids, so lines correlate with or without an exporter.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// NewLogger returns a JSON logger tagged with the app id, at LOG_LEVEL (debug|info|warn|error).
func NewLogger(w io.Writer, app, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lvl = slog.LevelInfo
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})
	return slog.New(contextHandler{h}).With("app", app)
}

// Option changes what Setup installs.
type Option func(*options)

type options struct{ edge bool }

// Edge is for the process that takes requests from outside (the gateway): it decides itself which
// traces to record, at the rate OTEL_TRACES_SAMPLER sets, and a caller's sampled flag counts for
// nothing. The caller's trace id is kept, so a client still finds its request's trace and logs.
// Otherwise a client could have every one of its requests recorded through every service (at the
// cluster's cost: spans, exporter queues, the trace store) by setting the flag, or hide them.
// Within the process and beyond it, spans follow the edge's decision as everywhere else.
func Edge() Option { return func(o *options) { o.edge = true } }

// Setup installs the global tracer provider and W3C propagators. The returned function flushes and
// stops the exporter.
func Setup(ctx context.Context, app string, opt ...Option) (func(context.Context) error, error) {
	var o options
	for _, f := range opt {
		f(&o)
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(app)))
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, errors.Join(errors.New("otlp exporter"), err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		if o.edge {
			opts = append(opts, sdktrace.WithSampler(EdgeSampler(os.Getenv("OTEL_TRACES_SAMPLER"), os.Getenv("OTEL_TRACES_SAMPLER_ARG"))))
		}
	} else {
		// Nowhere to send spans: none is recorded (recording them cost each request CPU for nothing).
		// Trace ids are still made and passed on, so logs and sidecars keep correlating requests.
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// EdgeSampler samples a new trace and a trace continued from a caller alike: by the sampler the
// OpenTelemetry environment variables name (sampler, arg), taken as a rate for the trace id; the
// caller's sampled flag is not read. A span whose parent is in the process follows its parent.
// The names are the specification's: always_on, always_off, traceidratio and their parentbased_
// forms (at the edge "parent-based" can only mean the process' own parents); an unknown name or a
// missing or bad ratio records everything, as the SDK does.
func EdgeSampler(sampler, arg string) sdktrace.Sampler {
	var decide sdktrace.Sampler
	switch strings.TrimPrefix(sampler, "parentbased_") {
	case "always_off":
		decide = sdktrace.NeverSample()
	case "traceidratio":
		ratio, err := strconv.ParseFloat(arg, 64)
		if err != nil || ratio < 0 || ratio > 1 {
			ratio = 1
		}
		decide = sdktrace.TraceIDRatioBased(ratio)
	default:
		decide = sdktrace.AlwaysSample()
	}
	return sdktrace.ParentBased(decide, sdktrace.WithRemoteParentSampled(decide), sdktrace.WithRemoteParentNotSampled(decide))
}
