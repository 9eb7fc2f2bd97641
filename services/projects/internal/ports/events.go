package ports

import (
	"context"
	"log/slog"

	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/subscriber"
	"github.com/acme/platform/services/projects/internal/app"
)

// UsersEvents handles acme.users.events: on user.erased the user leaves every project.
type UsersEvents struct {
	App   *app.Service
	Codec *events.Codec
	Log   *slog.Logger
}

// Handle is the subscriber.Handler for acme.users.events.
func (h UsersEvents) Handle(ctx context.Context, m subscriber.Message) error {
	e, err := h.Codec.Decode(m.Topic, m.Data)
	if err != nil {
		return subscriber.Permanent(err)
	}
	erased, ok := e.Payload.(events.UserErased)
	if e.Type != "user.erased" || !ok {
		return nil // other user events concern other services
	}
	if err := h.App.EraseMember(ctx, erased.UserID); err != nil {
		return err // retried under the resiliency policy, then dead-lettered
	}
	h.Log.InfoContext(ctx, "erased user removed from projects", "user_id", erased.UserID, "event_id", e.EventID)
	return nil
}
