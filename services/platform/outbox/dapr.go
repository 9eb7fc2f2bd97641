package outbox

import (
	"context"

	dapr "github.com/dapr/go-sdk/client"
)

// DaprPublisher publishes through the sidecar's pub/sub component with rawPayload, so the Kafka value
// is the Avro datum itself and any Kafka consumer can read it. The partition key becomes the Kafka
// message key; the other metadata entries become Kafka headers.
type DaprPublisher struct {
	Client dapr.Client
	PubSub string
}

// Publish sends one message.
func (p DaprPublisher) Publish(ctx context.Context, m Message) error {
	// One metadata map: PublishEventWithMetadata replaces the map PublishEventWithRawPayload would set.
	md := map[string]string{
		"rawPayload":   "true",
		"partitionKey": m.PartitionKey,
		"event-id":     m.EventID,
		"event-type":   m.EventType,
		"content-type": m.ContentType,
	}
	// The publish span's W3C trace context, as Kafka headers: a consumer continues the trace.
	if m.TraceParent != "" {
		md["traceparent"] = m.TraceParent
		if m.TraceState != "" {
			md["tracestate"] = m.TraceState
		}
	}
	return p.Client.PublishEvent(ctx, p.PubSub, m.Topic, m.Payload,
		dapr.PublishEventWithContentType("application/octet-stream"),
		dapr.PublishEventWithMetadata(md))
}
