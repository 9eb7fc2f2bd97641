// Package ports receives the events notifications acts on.
package ports

import (
	"context"

	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/subscriber"
)

// Events decodes a delivery and hands it to the app.
type Events struct {
	App   *app.Service
	Codec *events.Codec
}

// Handle is the subscriber.Handler for the users and projects topics.
func (h Events) Handle(ctx context.Context, m subscriber.Message) error {
	e, err := h.Codec.Decode(m.Topic, m.Data)
	if err != nil {
		return subscriber.Permanent(err)
	}
	return h.App.Handle(ctx, e)
}
