package deadletter

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	"github.com/acme/platform/services/platform/caller"
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
		out.Letters = append(out.Letters, &opsv1.DeadLetter{Id: l.ID, Topic: l.Topic, MessageId: l.MessageID, Data: l.Data,
			ReceivedAt: timestamppb.New(l.ReceivedAt)})
	}
	return out, nil
}
