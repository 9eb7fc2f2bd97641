package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	"github.com/acme/platform/services/platform/errs"
)

// Preference is one notification choice.
type Preference struct {
	Channel   *string `json:"channel"`
	EventType *string `json:"event_type"`
	Enabled   *bool   `json:"enabled"`
}

func preferencesView(ps []*notificationsv1.Preference) gin.H {
	out := []gin.H{}
	for _, p := range ps {
		out = append(out, gin.H{"channel": p.GetChannel(), "event_type": p.GetEventType(), "enabled": p.GetEnabled()})
	}
	return gin.H{"preferences": out}
}

func (a *API) getPreferences(c *gin.Context) {
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Preferences.GetPreferences(ctx, &notificationsv1.GetPreferencesRequest{})
	if err != nil {
		fail(c, backendErr(err))
		return
	}
	c.JSON(http.StatusOK, preferencesView(resp.GetPreferences()))
}

type preferencesRequest struct {
	Preferences *[]Preference `json:"preferences"`
}

func (a *API) setPreferences(c *gin.Context) {
	var req preferencesRequest
	if err := decodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Preferences == nil {
		fail(c, errs.Invalid("request.field_required", "preferences", `field "preferences" is required`))
		return
	}
	if len(*req.Preferences) > 50 {
		fail(c, errs.Invalid("request.field_too_long", "preferences", "at most 50 preferences"))
		return
	}
	in := &notificationsv1.SetPreferencesRequest{}
	for _, p := range *req.Preferences {
		if err := firstErr(field("channel", p.Channel, 32), field("event_type", p.EventType, 64)); err != nil {
			fail(c, err)
			return
		}
		if p.Enabled == nil {
			fail(c, errs.Invalid("request.field_required", "enabled", `field "enabled" is required`))
			return
		}
		in.Preferences = append(in.Preferences, &notificationsv1.Preference{Channel: *p.Channel, EventType: *p.EventType, Enabled: *p.Enabled})
	}
	ctx, cancel := a.asCaller(c)
	defer cancel()
	resp, err := a.Preferences.SetPreferences(ctx, in)
	if err != nil {
		fail(c, backendErr(err))
		return
	}
	c.JSON(http.StatusOK, preferencesView(resp.GetPreferences()))
}
