package subscriber

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/acme/platform/services/platform/events"
)

type decoder func(string, []byte) (events.Envelope, error)

func (d decoder) Decode(topic string, data []byte) (events.Envelope, error) { return d(topic, data) }

func TestOnTopicEvent_MapsOutcomesToDaprStatuses(t *testing.T) {
	codec := decoder(func(_ string, data []byte) (events.Envelope, error) {
		if string(data) == "poison" {
			return events.Envelope{}, events.ErrUndecodable
		}
		return events.Envelope{EventID: string(data)}, nil
	})
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	s.Handle("pubsub", "t", Events(codec, func(_ context.Context, _ string, e events.Envelope) error {
		switch e.EventID {
		case "fail":
			return errors.New("database down")
		case "panic":
			panic("bug")
		}
		return nil
	}))
	for data, want := range map[string]runtimev1pb.TopicEventResponse_TopicEventResponseStatus{
		"ok":     runtimev1pb.TopicEventResponse_SUCCESS,
		"poison": runtimev1pb.TopicEventResponse_DROP,  // dead-lettered at once
		"fail":   runtimev1pb.TopicEventResponse_RETRY, // retried, then dead-lettered
		"panic":  runtimev1pb.TopicEventResponse_RETRY,
	} {
		resp, err := s.OnTopicEvent(context.Background(), &runtimev1pb.TopicEventRequest{PubsubName: "pubsub", Topic: "t", Data: []byte(data)})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("%s: %v %v, want %v", data, resp.GetStatus(), err, want)
		}
	}
	resp, _ := s.OnTopicEvent(context.Background(), &runtimev1pb.TopicEventRequest{PubsubName: "pubsub", Topic: "unknown"})
	if resp.GetStatus() != runtimev1pb.TopicEventResponse_RETRY {
		t.Errorf("a topic without a handler: %v", resp.GetStatus())
	}
}

// Handling time by topic and outcome, and the lag from an event's occurred_at.
func TestOnTopicEvent_RecordsHandlingAndLag(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	occurred := time.Now().Add(-2 * time.Second)
	codec := decoder(func(_ string, data []byte) (events.Envelope, error) {
		if string(data) == "poison" {
			return events.Envelope{}, events.ErrUndecodable
		}
		return events.Envelope{EventID: string(data), OccurredAt: occurred}, nil
	})
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	s.Handle("pubsub", "acme.test", Events(codec, func(_ context.Context, _ string, e events.Envelope) error {
		if e.EventID == "fail" {
			return errors.New("database down")
		}
		return nil
	}))
	for _, data := range []string{"ok", "ok", "poison", "fail"} {
		if _, err := s.OnTopicEvent(context.Background(), &runtimev1pb.TopicEventRequest{PubsubName: "pubsub", Topic: "acme.test", Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	var minLag float64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				topic, _ := p.Attributes.Value("topic")
				outcome, _ := p.Attributes.Value("outcome")
				got[m.Name+"/"+topic.AsString()+"/"+outcome.AsString()] += p.Count
				if m.Name == "acme_event_lag" {
					minLag, _ = p.Min.Value()
				}
			}
		}
	}
	want := map[string]uint64{
		"acme_event_handling/acme.test/success": 2,
		"acme_event_handling/acme.test/drop":    1,
		"acme_event_handling/acme.test/retry":   1,
		"acme_event_lag/acme.test/":             3, // the poison message has no occurred_at to measure from
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
	if minLag < 2 {
		t.Errorf("the smallest lag is %v s, want at least 2 s", minLag)
	}
}

// Each delivery is a consumer span named after its topic, a child of the delivering span (daprd's,
// which continues the producer's trace), and the handler runs inside it; a failure marks it.
func TestOnTopicEvent_ContinuesTheDeliveryTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	var inHandler []trace.SpanContext
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	s.Handle("pubsub", "acme.test", func(ctx context.Context, m Message) error {
		inHandler = append(inHandler, trace.SpanContextFromContext(ctx))
		if string(m.Data) == "fail" {
			return errors.New("database down")
		}
		return nil
	})
	delivery := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), delivery)
	for _, data := range []string{"ok", "fail"} {
		if _, err := s.OnTopicEvent(ctx, &runtimev1pb.TopicEventRequest{Id: "m-" + data, PubsubName: "pubsub", Topic: "acme.test", Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans ended, want 2", len(spans))
	}
	for i, sp := range spans {
		if sp.Name() != "process acme.test" || sp.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("span %d: %q %v, want a consumer span named process acme.test", i, sp.Name(), sp.SpanKind())
		}
		if sp.Parent().SpanID() != delivery.SpanID() || sp.SpanContext().TraceID() != delivery.TraceID() {
			t.Errorf("span %d is not a child of the delivery: parent %v", i, sp.Parent())
		}
		if inHandler[i].SpanID() != sp.SpanContext().SpanID() {
			t.Errorf("handler %d ran outside its span", i)
		}
		attrs := map[string]string{}
		for _, a := range sp.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if attrs["messaging.destination.name"] != "acme.test" || attrs["messaging.message.id"] != "m-"+[]string{"ok", "fail"}[i] ||
			attrs["messaging.operation.type"] != "process" {
			t.Errorf("span %d attributes: %v", i, attrs)
		}
	}
	if spans[0].Status().Code != codes.Unset || spans[1].Status().Code != codes.Error {
		t.Errorf("statuses %v, %v: want unset for a success, error for a failure", spans[0].Status(), spans[1].Status())
	}
}
