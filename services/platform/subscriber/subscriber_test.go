package subscriber

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

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
