package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	"github.com/acme/platform/services/audit/internal/app"
)

// GRPC serves acme.audit.v1.
type GRPC struct {
	auditv1.UnimplementedAuditServiceServer
	App app.Service
}

func (g GRPC) ListRecords(ctx context.Context, in *auditv1.ListRecordsRequest) (*auditv1.ListRecordsResponse, error) {
	p, err := g.App.List(ctx, in.GetSubject(), in.GetType(), int(in.GetPageSize()), in.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &auditv1.ListRecordsResponse{NextPageToken: p.Next}
	for _, r := range p.Records {
		out.Records = append(out.Records, &auditv1.AuditRecord{
			EventId: r.EventID, Type: r.Type, OccurredAt: timestamppb.New(r.OccurredAt), Subject: r.Subject,
			Actor: r.Actor, Region: r.Region, Action: r.Type, ResourceType: r.ResourceType, ResourceId: r.Subject,
			Outcome: r.Outcome, Details: r.Details, Source: r.Source, RecordedAt: timestamppb.New(r.RecordedAt),
		})
	}
	return out, nil
}
