package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	"github.com/acme/platform/services/platform/errs"
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

func (a *API) createWebhook(c *gin.Context) {
	id, ok := pathID(c, "id", "project.not_found")
	if !ok {
		return
	}
	var req createWebhookRequest
	if err := decodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	secret := ""
	if req.Secret != nil {
		secret = *req.Secret
	}
	if err := firstErr(field("url", req.URL, 2000), field("secret", &secret, 128)); err != nil {
		fail(c, err)
		return
	}
	if req.EventTypes == nil || len(*req.EventTypes) == 0 || len(*req.EventTypes) > 20 {
		fail(c, errs.Invalid("request.field_required", "event_types", `field "event_types" must list 1 to 20 event types`))
		return
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Webhooks.CreateWebhook(ctx, &notificationsv1.CreateWebhookRequest{ProjectId: id, Url: *req.URL,
		EventTypes: *req.EventTypes, Secret: secret})
	if err != nil {
		fail(c, backendErr(err))
		return
	}
	c.Header("Location", "/v1/projects/"+id+"/webhooks/"+resp.GetWebhook().GetId())
	c.JSON(http.StatusCreated, gin.H{"webhook": webhookView(resp.GetWebhook()), "secret": resp.GetSecret()})
}

func (a *API) listWebhooks(c *gin.Context) {
	id, ok := pathID(c, "id", "project.not_found")
	if !ok {
		return
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Webhooks.ListWebhooks(ctx, &notificationsv1.ListWebhooksRequest{ProjectId: id})
	if err != nil {
		fail(c, backendErr(err))
		return
	}
	out := []gin.H{}
	for _, w := range resp.GetWebhooks() {
		out = append(out, webhookView(w))
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": out})
}

// webhookPath reads the project and webhook ids of /v1/projects/{id}/webhooks/{webhook_id}.
func webhookPath(c *gin.Context) (string, string, bool) {
	id, ok := pathID(c, "id", "project.not_found")
	if !ok {
		return "", "", false
	}
	hook, ok := pathID(c, "webhook_id", "webhook.not_found")
	return id, hook, ok
}

func (a *API) deleteWebhook(c *gin.Context) {
	id, hook, ok := webhookPath(c)
	if !ok {
		return
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	if _, err := a.Webhooks.DeleteWebhook(ctx, &notificationsv1.DeleteWebhookRequest{ProjectId: id, WebhookId: hook}); err != nil {
		fail(c, backendErr(err))
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) enableWebhook(c *gin.Context) {
	id, hook, ok := webhookPath(c)
	if !ok {
		return
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Webhooks.EnableWebhook(ctx, &notificationsv1.EnableWebhookRequest{ProjectId: id, WebhookId: hook})
	if err != nil {
		fail(c, backendErr(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"webhook": webhookView(resp.GetWebhook())})
}

func (a *API) listDeliveries(c *gin.Context) {
	id, hook, ok := webhookPath(c)
	if !ok {
		return
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Webhooks.ListDeliveries(ctx, &notificationsv1.ListDeliveriesRequest{ProjectId: id, WebhookId: hook})
	if err != nil {
		fail(c, backendErr(err))
		return
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
	c.JSON(http.StatusOK, gin.H{"deliveries": out})
}
