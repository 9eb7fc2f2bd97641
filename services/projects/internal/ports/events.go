package ports

import (
	"context"
	"log/slog"

	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/projects/internal/app"
)

// UsersEvents handles acme.users.events: on user.erased the user leaves every project.
type UsersEvents struct {
	App *app.Service
	Log *slog.Logger
}

// Handle takes one decoded event of acme.users.events (wrap with subscriber.Events).
func (h UsersEvents) Handle(ctx context.Context, _ string, e events.Envelope) error {
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
