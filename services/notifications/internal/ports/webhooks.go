package ports

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/caller"
)

// Webhooks serves acme.notifications.v1.WebhooksService.
type Webhooks struct {
	notificationsv1.UnimplementedWebhooksServiceServer
	App *app.Webhooks
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func webhookToProto(w app.Webhook) *notificationsv1.Webhook {
	return &notificationsv1.Webhook{Id: w.ID, ProjectId: w.ProjectID, Url: w.URL, EventTypes: w.EventTypes, Enabled: w.Enabled,
		ConsecutiveFailures: int32(w.ConsecutiveFailures), CreatedAt: ts(w.CreatedAt), DisabledAt: ts(w.DisabledAt),
		DisabledReason: w.DisabledReason}
}

func (g Webhooks) CreateWebhook(ctx context.Context, in *notificationsv1.CreateWebhookRequest) (*notificationsv1.CreateWebhookResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.Create(ctx, c, in.GetProjectId(), in.GetUrl(), in.GetEventTypes(), in.GetSecret())
	if err != nil {
		return nil, err
	}
	return &notificationsv1.CreateWebhookResponse{Webhook: webhookToProto(w), Secret: w.Secret}, nil
}

func (g Webhooks) ListWebhooks(ctx context.Context, in *notificationsv1.ListWebhooksRequest) (*notificationsv1.ListWebhooksResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := g.App.List(ctx, c, in.GetProjectId())
	if err != nil {
		return nil, err
	}
	out := &notificationsv1.ListWebhooksResponse{}
	for _, w := range ws {
		out.Webhooks = append(out.Webhooks, webhookToProto(w))
	}
	return out, nil
}

func (g Webhooks) DeleteWebhook(ctx context.Context, in *notificationsv1.DeleteWebhookRequest) (*notificationsv1.DeleteWebhookResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &notificationsv1.DeleteWebhookResponse{}, g.App.Delete(ctx, c, in.GetProjectId(), in.GetWebhookId())
}

func (g Webhooks) EnableWebhook(ctx context.Context, in *notificationsv1.EnableWebhookRequest) (*notificationsv1.EnableWebhookResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.Enable(ctx, c, in.GetProjectId(), in.GetWebhookId())
	if err != nil {
		return nil, err
	}
	return &notificationsv1.EnableWebhookResponse{Webhook: webhookToProto(w)}, nil
}

func (g Webhooks) ListDeliveries(ctx context.Context, in *notificationsv1.ListDeliveriesRequest) (*notificationsv1.ListDeliveriesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := g.App.DeliveriesOf(ctx, c, in.GetProjectId(), in.GetWebhookId())
	if err != nil {
		return nil, err
	}
	out := &notificationsv1.ListDeliveriesResponse{}
	for _, d := range ds {
		pd := &notificationsv1.Delivery{Id: d.ID, EventId: d.EventID, EventType: d.EventType, Status: d.Status,
			CreatedAt: ts(d.CreatedAt)}
		if d.Status == app.Pending {
			pd.NextAttemptAt = ts(d.NextAt)
		}
		for _, a := range d.Attempts {
			pd.Attempts = append(pd.Attempts, &notificationsv1.DeliveryAttempt{Attempt: int32(a.N), At: ts(a.At),
				StatusCode: int32(a.StatusCode), LatencyMs: a.LatencyMS, Error: a.Error})
		}
		out.Deliveries = append(out.Deliveries, pd)
	}
	return out, nil
}
