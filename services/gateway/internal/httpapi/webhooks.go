package httpapi

import (
	"context"

	"github.com/gin-gonic/gin"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
)

func webhookView(w *notificationsv1.Webhook) gin.H {
	types := w.GetEventTypes()
	if types == nil {
		types = []string{}
	}
	v := gin.H{"id": w.GetId(), "project_id": w.GetProjectId(), "url": w.GetUrl(), "event_types": types,
		"enabled": w.GetEnabled(), "consecutive_failures": w.GetConsecutiveFailures(), "created_at": w.GetCreatedAt().AsTime().UTC()}
	if w.DisabledAt != nil {
		v["disabled_at"] = w.GetDisabledAt().AsTime().UTC()
		v["disabled_reason"] = w.GetDisabledReason()
	}
	return v
}

type createWebhookRequest struct {
	URL        *string   `json:"url"`
	EventTypes *[]string `json:"event_types"`
	Secret     *string   `json:"secret"`
}

func (a *API) createWebhook(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	req, err := jsonBody[createWebhookRequest](c)
	if err != nil {
		return answer{}, err
	}
	secret := ""
	if req.Secret != nil {
		secret = *req.Secret
	}
	resp, err := a.Webhooks.CreateWebhook(ctx, &notificationsv1.CreateWebhookRequest{ProjectId: id, Url: *req.URL,
		EventTypes: *req.EventTypes, Secret: secret})
	if err != nil {
		return answer{}, err
	}
	return createdAt("/v1/projects/"+id+"/webhooks/"+resp.GetWebhook().GetId(),
		gin.H{"webhook": webhookView(resp.GetWebhook()), "secret": resp.GetSecret()}), nil
}

func (a *API) listWebhooks(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Webhooks.ListWebhooks(ctx, &notificationsv1.ListWebhooksRequest{ProjectId: id})
	if err != nil {
		return answer{}, err
	}
	out := []gin.H{}
	for _, w := range resp.GetWebhooks() {
		out = append(out, webhookView(w))
	}
	return okWith(gin.H{"webhooks": out}), nil
}

// webhookPath reads the project and webhook ids of /v1/projects/{id}/webhooks/{webhook_id}.
func webhookPath(c *gin.Context) (string, string, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return "", "", err
	}
	hook, err := uuidParam(c, "webhook_id", "webhook.not_found")
	return id, hook, err
}

func (a *API) deleteWebhook(c *gin.Context, ctx context.Context) (answer, error) {
	id, hook, err := webhookPath(c)
	if err != nil {
		return answer{}, err
	}
	if _, err := a.Webhooks.DeleteWebhook(ctx, &notificationsv1.DeleteWebhookRequest{ProjectId: id, WebhookId: hook}); err != nil {
		return answer{}, err
	}
	return noContent(), nil
}

func (a *API) enableWebhook(c *gin.Context, ctx context.Context) (answer, error) {
	id, hook, err := webhookPath(c)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Webhooks.EnableWebhook(ctx, &notificationsv1.EnableWebhookRequest{ProjectId: id, WebhookId: hook})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"webhook": webhookView(resp.GetWebhook())}), nil
}

func (a *API) listDeliveries(c *gin.Context, ctx context.Context) (answer, error) {
	id, hook, err := webhookPath(c)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Webhooks.ListDeliveries(ctx, &notificationsv1.ListDeliveriesRequest{ProjectId: id, WebhookId: hook})
	if err != nil {
		return answer{}, err
	}
	out := []gin.H{}
	for _, d := range resp.GetDeliveries() {
		attempts := []gin.H{}
		for _, at := range d.GetAttempts() {
			v := gin.H{"attempt": at.GetAttempt(), "at": at.GetAt().AsTime().UTC(), "status_code": at.GetStatusCode(), "latency_ms": at.GetLatencyMs()}
			if at.GetError() != "" {
				v["error"] = at.GetError()
			}
			attempts = append(attempts, v)
		}
		v := gin.H{"id": d.GetId(), "event_id": d.GetEventId(), "event_type": d.GetEventType(), "status": d.GetStatus(),
			"created_at": d.GetCreatedAt().AsTime().UTC(), "attempts": attempts}
		if d.NextAttemptAt != nil {
			v["next_attempt_at"] = d.GetNextAttemptAt().AsTime().UTC()
		}
		out = append(out, v)
	}
	return okWith(gin.H{"deliveries": out}), nil
}
