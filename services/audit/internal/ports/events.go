// Package ports connects the audit app to Dapr: deliveries from its subscriptions, and the
// acme.audit.v1 query API over gRPC.
package ports

import (
	"context"
	"errors"
	"log/slog"

	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/subscriber"
)

// Events records every event delivered on the topics audit subscribes to.
type Events struct {
	App app.Service
	Log *slog.Logger
}

// Handle records one decoded event (wrap with subscriber.Events).
func (h Events) Handle(ctx context.Context, topic string, e events.Envelope) error {
	stored, err := h.App.RecordEvent(ctx, topic, e)
	var de *errs.Error
	if errors.As(err, &de) && de.Kind == errs.KindInvalid {
		return subscriber.Permanent(err)
	}
	if err != nil {
		return err
	}
	h.Log.DebugContext(ctx, "audit event", "event_id", e.EventID, "type", e.Type, "stored", stored)
	return nil
}
