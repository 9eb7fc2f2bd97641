// Package subscriber is the app side of Dapr pub/sub over gRPC: it serves Dapr's AppCallback service
// and hands each delivered message to the handler registered for its topic.
//
// Subscriptions themselves are declarative (components/*/subscriptions.yaml), because that is where the
// dead-letter topic and rawPayload live. The app therefore lists no programmatic subscriptions: daprd
// lets a programmatic subscription replace a declarative one for the same topic, which would drop the
// dead-letter topic.
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/acme/platform/services/platform/events"

	"github.com/acme/platform/contracts/consumers"
)

// Message is one delivery. With rawPayload subscriptions Data holds the Kafka value unchanged.
type Message struct {
	ID       string
	PubSub   string
	Topic    string
	Data     []byte
	Metadata map[string]string
}

// Handler processes one message. A nil error acknowledges it; an error asks Dapr to retry under the
// resiliency policy and then dead-letter it; an error wrapping ErrPermanent dead-letters it at once.
type Handler func(ctx context.Context, m Message) error

// ErrPermanent marks data no retry can fix (it does not decode, its schema is unknown).
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so the message goes to the dead-letter topic without retries.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// instruments are the consumer's metrics, made once from the global meter provider:
//   - acme_event_handling_seconds{topic, outcome}: a delivery's handling time, by what daprd is told
//     (success, retry, drop);
//   - acme_event_lag_seconds{topic}: from the event's occurred_at to its handling, the consumer lag
//     in time (the producer's outbox, the relay, Kafka and daprd's delivery all count).
var instruments = sync.OnceValue(func() (i struct{ handling, lag metric.Float64Histogram }) {
	m := otel.Meter("acme/subscriber")
	buckets := metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
	i.handling, _ = m.Float64Histogram("acme_event_handling", metric.WithUnit("s"), buckets,
		metric.WithDescription("Time an app took to handle one delivered event, by outcome."))
	i.lag, _ = m.Float64Histogram("acme_event_lag", metric.WithUnit("s"), buckets,
		metric.WithDescription("From an event's occurred_at to a consumer's handling of it."))
	return i
})

// Subscriber dispatches Dapr deliveries to handlers.
type Subscriber struct {
	runtimev1pb.UnimplementedAppCallbackServer
	runtimev1pb.UnimplementedAppCallbackHealthCheckServer

	log      *slog.Logger
	mu       sync.RWMutex
	handlers map[string]Handler
	healthy  func(context.Context) error
}

// New returns a subscriber with no handlers; healthy answers daprd's app health probe.
func New(log *slog.Logger, healthy func(context.Context) error) *Subscriber {
	return &Subscriber{log: log, handlers: map[string]Handler{}, healthy: healthy}
}

// Handle registers h for topic on pubsub.
func (s *Subscriber) Handle(pubsub, topic string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[pubsub+"/"+topic] = h
}

// Consume subscribes app to what contracts/consumers/consumers.yaml declares for it: handler for
// every topic it consumes, deadLetters for each of their dead-letter topics. The declaration is the
// one place that says who consumes what; the Subscription resources are generated from it.
func (s *Subscriber) Consume(pubsub, app string, handler, deadLetters Handler) error {
	d, err := consumers.Load()
	if err != nil {
		return err
	}
	topics := d.Topics(app)
	if len(topics) == 0 {
		return fmt.Errorf("contracts/consumers/consumers.yaml declares no topic for %s", app)
	}
	for _, t := range topics {
		s.Handle(pubsub, t, handler)
		s.Handle(pubsub, consumers.DeadLetterTopic(t, app), deadLetters)
	}
	return nil
}

// Register serves the subscriber on srv.
func (s *Subscriber) Register(srv *grpc.Server) {
	runtimev1pb.RegisterAppCallbackServer(srv, s)
	runtimev1pb.RegisterAppCallbackHealthCheckServer(srv, s)
}

// ListTopicSubscriptions lists none: see the package comment.
func (s *Subscriber) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	return &runtimev1pb.ListTopicSubscriptionsResponse{}, nil
}

// ListInputBindings lists none; the apps use output bindings only.
func (s *Subscriber) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	return &runtimev1pb.ListInputBindingsResponse{}, nil
}

// OnTopicEvent runs the topic's handler and tells daprd what to do with the message.
func (s *Subscriber) OnTopicEvent(ctx context.Context, in *runtimev1pb.TopicEventRequest) (*runtimev1pb.TopicEventResponse, error) {
	s.mu.RLock()
	h, ok := s.handlers[in.GetPubsubName()+"/"+in.GetTopic()]
	s.mu.RUnlock()
	log := s.log.With("topic", in.GetTopic(), "message_id", in.GetId())
	if !ok {
		// A subscription without a handler is a deployment mistake; retrying then dead-lettering keeps
		// the message instead of losing it.
		log.ErrorContext(ctx, "no handler for topic")
		return &runtimev1pb.TopicEventResponse{Status: runtimev1pb.TopicEventResponse_RETRY}, nil
	}
	md := map[string]string{}
	if ext := in.GetExtensions(); ext != nil {
		for k, v := range ext.AsMap() {
			if s, ok := v.(string); ok {
				md[k] = s
			}
		}
	}
	// The consumer span: a child of the span daprd opens for the delivery, itself a child of the
	// producer span the record's traceparent header names (the relay's publish). A child, not a
	// link: each delivery is handled alone, one event per call, so the event's own trace is the
	// one to follow; a batch consumer would link its many producers instead.
	ctx, span := otel.Tracer("acme/subscriber").Start(ctx, "process "+in.GetTopic(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("messaging.destination.name", in.GetTopic()),
			attribute.String("messaging.message.id", in.GetId()), attribute.String("messaging.operation.type", "process")))
	defer span.End()
	start := time.Now()
	err := safeCall(ctx, h, Message{ID: in.GetId(), PubSub: in.GetPubsubName(), Topic: in.GetTopic(), Data: in.GetData(), Metadata: md})
	status := runtimev1pb.TopicEventResponse_SUCCESS
	switch {
	case err == nil:
	case errors.Is(err, ErrPermanent):
		log.WarnContext(ctx, "message cannot be processed, dead-lettering", "error", err)
		status = runtimev1pb.TopicEventResponse_DROP
	default:
		log.WarnContext(ctx, "message failed, asking for retry", "error", err)
		status = runtimev1pb.TopicEventResponse_RETRY
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, outcomes[status])
	}
	instruments().handling.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		attribute.String("topic", in.GetTopic()), attribute.String("outcome", outcomes[status])))
	return &runtimev1pb.TopicEventResponse{Status: status}, nil
}

var outcomes = map[runtimev1pb.TopicEventResponse_TopicEventResponseStatus]string{
	runtimev1pb.TopicEventResponse_SUCCESS: "success",
	runtimev1pb.TopicEventResponse_RETRY:   "retry",
	runtimev1pb.TopicEventResponse_DROP:    "drop",
}

func safeCall(ctx context.Context, h Handler, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, m)
}

// HealthCheck answers daprd's app health probe; daprd subscribes the app only once it is healthy.
func (s *Subscriber) HealthCheck(ctx context.Context, _ *emptypb.Empty) (*runtimev1pb.HealthCheckResponse, error) {
	if s.healthy != nil {
		if err := s.healthy(ctx); err != nil {
			return nil, err
		}
	}
	return &runtimev1pb.HealthCheckResponse{}, nil
}

// Decoder reads a delivery's bytes as an event of its topic.
type Decoder interface {
	Decode(topic string, data []byte) (events.Envelope, error)
}

// Events adapts an event handler: it decodes each delivery with codec and sends data that is not an
// event of the topic straight to the dead-letter topic, since no retry can make it readable.
func Events(codec Decoder, h func(ctx context.Context, topic string, e events.Envelope) error) Handler {
	return func(ctx context.Context, m Message) error {
		e, err := codec.Decode(m.Topic, m.Data)
		if err != nil {
			return Permanent(err)
		}
		if !e.OccurredAt.IsZero() {
			instruments().lag.Record(ctx, time.Since(e.OccurredAt).Seconds(), metric.WithAttributes(attribute.String("topic", m.Topic)))
		}
		return h(ctx, m.Topic, e)
	}
}
