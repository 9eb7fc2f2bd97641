package deadletter

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"

	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/events"
)

// Server serves acme.ops.v1 from a store.
type Server struct {
	opsv1.UnimplementedDeadLetterServiceServer
	Store *Store
}

func (s Server) ListDeadLetters(ctx context.Context, in *opsv1.ListDeadLettersRequest) (*opsv1.ListDeadLettersResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	letters, next, err := s.Store.List(ctx, c, int(in.GetPageSize()), in.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &opsv1.ListDeadLettersResponse{NextPageToken: next}
	for _, l := range letters {
		out.Letters = append(out.Letters, &opsv1.DeadLetter{Id: l.ID, Topic: l.Topic, MessageId: l.MessageID, Data: redact(l.Topic, l.Data),
			ReceivedAt: timestamppb.New(l.ReceivedAt)})
	}
	return out, nil
}

var codec = sync.OnceValues(events.NewCodec)

// Redacted stands where a secret was.
const Redacted = "[redacted]"

// redact hides what a listing must not show: the tokens events carried before they stopped carrying
// any (issue 11, item 7) are replaced, and the datum re-encoded. What is no readable event (the
// poison that made it a dead letter) is shown as it came.
func redact(topic string, data []byte) []byte {
	c, err := codec()
	if err != nil {
		return nil
	}
	base, _, _ := strings.Cut(topic, ".deadletter.")
	e, err := c.Decode(base, data)
	if err != nil {
		return data
	}
	switch p := e.Payload.(type) {
	case events.UserRegistered:
		if p.VerificationToken == "" {
			return data
		}
		p.VerificationToken = Redacted
		e.Payload = p
	case events.PasswordResetRequested:
		if p.Token == "" {
			return data
		}
		p.Token = Redacted
		e.Payload = p
	default:
		return data
	}
	out, err := c.Encode(base, e)
	if err != nil {
		return nil
	}
	return out
}
