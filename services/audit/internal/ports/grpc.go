package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/platform/caller"
)

// GRPC serves acme.audit.v1.
type GRPC struct {
	auditv1.UnimplementedAuditServiceServer
	App app.Service
}

func (g GRPC) ListRecords(ctx context.Context, in *auditv1.ListRecordsRequest) (*auditv1.ListRecordsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	q := app.Query{Subject: in.GetSubject(), Type: in.GetType(), Actor: in.GetActor(), Size: int(in.GetPageSize()), Token: in.GetPageToken()}
	if in.GetOccurredFrom() != nil {
		q.From = in.GetOccurredFrom().AsTime()
	}
	if in.GetOccurredTo() != nil {
		q.To = in.GetOccurredTo().AsTime()
	}
	p, err := g.App.List(ctx, c, q)
	if err != nil {
		return nil, err
	}
	out := &auditv1.ListRecordsResponse{NextPageToken: p.Next}
	for _, r := range p.Records {
		out.Records = append(out.Records, &auditv1.AuditRecord{
			EventId: r.EventID, Type: r.Type, OccurredAt: timestamppb.New(r.OccurredAt), Subject: r.Subject,
			Actor: r.Actor, Region: r.Region, Action: r.Type, ResourceType: r.ResourceType, ResourceId: r.Subject,
			Outcome: r.Outcome, Details: r.Details, Source: r.Source, RecordedAt: timestamppb.New(r.RecordedAt), Topic: r.Topic,
		})
	}
	return out, nil
}

func (g GRPC) VerifyChain(ctx context.Context, _ *auditv1.VerifyChainRequest) (*auditv1.VerifyChainResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	b, checked, err := g.App.Verify(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &auditv1.VerifyChainResponse{Intact: b == nil, Checked: checked}
	if b != nil {
		out.BrokenSeq, out.BrokenEventId, out.Reason = b.Seq, b.EventID, b.Reason
	}
	return out, nil
}
