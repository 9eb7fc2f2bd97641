package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/platform/services/platform/events"
)

// consumed is one record read straight from Kafka, decoded.
type consumed struct {
	Record *kgo.Record
	Event  events.Envelope
}

// readTopic reads topic from its start with a plain Kafka client (no Dapr), decoding each record,
// until done says it has what it needs or 10 s pass; records that are not datums of the topic are
// skipped. It returns the client so a test can produce with it too.
func readTopic(t *testing.T, topic string, done func(consumed) bool) *kgo.Client {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.brokerAddr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for finished := false; !finished; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: what the test waits for did not arrive within 10 s", topic)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if finished {
				return
			}
			if e, err := codec.Decode(topic, r.Value); err == nil {
				finished = done(consumed{Record: r, Event: e})
			}
		})
	}
	return cl
}
