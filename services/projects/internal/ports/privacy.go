package ports

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/projects/internal/app"
)

// Privacy serves acme.privacy.v1: the projects a user belongs to.
type Privacy struct {
	privacyv1.UnimplementedPersonalDataServiceServer
	App *app.Service
}

func (p Privacy) ExportPersonalData(ctx context.Context, in *privacyv1.ExportPersonalDataRequest) (*privacyv1.ExportPersonalDataResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := p.App.ExportMemberships(ctx, c, in.GetUserId())
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, m := range ms {
		list = append(list, map[string]any{"project_id": m.ProjectID, "project_name": m.ProjectName,
			"role": string(m.Member.Role), "added_at": m.Member.AddedAt.UTC().Format(time.RFC3339)})
	}
	data, err := structpb.NewStruct(map[string]any{"memberships": list})
	if err != nil {
		return nil, err
	}
	return &privacyv1.ExportPersonalDataResponse{App: "projects", Data: data}, nil
}
