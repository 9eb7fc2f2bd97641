package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/platform/services/platform/telemetry"
)

// At the edge a client's traceparent gives the request its trace id but not the decision to record
// it: with the gateway sampling nothing, a client's sampled flag records nothing; sampling
// everything, an unsampled flag hides nothing. What the handler passes on carries the gateway's
// decision, and none of the client's baggage.
func TestTracedRequestsKeepTheClientsTraceButNotItsSamplingOrBaggage(t *testing.T) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	defer otel.SetTracerProvider(otel.GetTracerProvider())
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, c := range []struct {
		name, sampler, flags string
		recorded             bool
	}{
		{"client asks, gateway samples nothing", "parentbased_traceidratio", "01", false},
		{"client declines, gateway samples everything", "parentbased_always_on", "00", true},
		{"client asks, gateway samples everything", "parentbased_always_on", "01", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
				sdktrace.WithSampler(telemetry.EdgeSampler(c.sampler, "0"))))
			var inside trace.SpanContext
			var bag baggage.Baggage
			h := traced(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				inside, bag = trace.SpanContextFromContext(r.Context()), baggage.FromContext(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-"+c.flags)
			req.Header.Set("baggage", "tenant=someone-else,role=admin")
			h.ServeHTTP(httptest.NewRecorder(), req)

			if inside.TraceID().String() != traceID {
				t.Errorf("trace id %s, want the client's %s", inside.TraceID(), traceID)
			}
			if inside.IsSampled() != c.recorded || (len(spans.Ended()) == 1) != c.recorded {
				t.Errorf("sampled %v, %d spans recorded; want recorded %v", inside.IsSampled(), len(spans.Ended()), c.recorded)
			}
			if bag.Len() != 0 {
				t.Errorf("the client's baggage came in: %s", bag)
			}
		})
	}
}
