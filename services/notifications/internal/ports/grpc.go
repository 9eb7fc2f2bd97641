// Package ports serves acme.notifications.v1.
package ports

import (
	"context"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/caller"
)

// Preferences serves acme.notifications.v1.
type Preferences struct {
	notificationsv1.UnimplementedPreferencesServiceServer
	App *app.Service
}

func toProto(ps []app.Preference) []*notificationsv1.Preference {
	out := make([]*notificationsv1.Preference, 0, len(ps))
	for _, p := range ps {
		out = append(out, &notificationsv1.Preference{Channel: p.Channel, EventType: p.EventType, Enabled: p.Enabled})
	}
	return out
}

func (g Preferences) GetPreferences(ctx context.Context, _ *notificationsv1.GetPreferencesRequest) (*notificationsv1.GetPreferencesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := g.App.Preferences(ctx, c)
	if err != nil {
		return nil, err
	}
	return &notificationsv1.GetPreferencesResponse{Preferences: toProto(ps)}, nil
}

func (g Preferences) SetPreferences(ctx context.Context, in *notificationsv1.SetPreferencesRequest) (*notificationsv1.SetPreferencesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	var ps []app.Preference
	for _, p := range in.GetPreferences() {
		ps = append(ps, app.Preference{Channel: p.GetChannel(), EventType: p.GetEventType(), Enabled: p.GetEnabled()})
	}
	out, err := g.App.SetPreferences(ctx, c, ps)
	if err != nil {
		return nil, err
	}
	return &notificationsv1.SetPreferencesResponse{Preferences: toProto(out)}, nil
}
