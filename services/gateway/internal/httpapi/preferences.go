package httpapi

import (
	"context"

	"github.com/gin-gonic/gin"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
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

func (a *API) getPreferences(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Preferences.GetPreferences(ctx, &notificationsv1.GetPreferencesRequest{})
	if err != nil {
		return answer{}, err
	}
	return okWith(preferencesView(resp.GetPreferences())), nil
}

type preferencesRequest struct {
	Preferences *[]Preference `json:"preferences"`
}

func (a *API) setPreferences(c *gin.Context, ctx context.Context) (answer, error) {
	var req preferencesRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	in := &notificationsv1.SetPreferencesRequest{}
	for _, p := range *req.Preferences {
		in.Preferences = append(in.Preferences, &notificationsv1.Preference{Channel: *p.Channel, EventType: *p.EventType, Enabled: *p.Enabled})
	}
	resp, err := a.Preferences.SetPreferences(ctx, in)
	if err != nil {
		return answer{}, err
	}
	return okWith(preferencesView(resp.GetPreferences())), nil
}
