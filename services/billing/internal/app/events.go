package app

import (
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
)

// published is what the domain's events become on acme.billing.events (which audit records and
// notifications mails from). actor is who caused them: the account, "stripe" or system:billing.
func published(actor string, at time.Time, evs []billing.Event) []outbox.Event {
	out := make([]outbox.Event, 0, len(evs))
	for _, e := range evs {
		s := e.Subscription
		var payload any
		if e.Invoice != nil {
			inv := e.Invoice
			payload = events.InvoiceEvent{AccountID: inv.AccountID, InvoiceID: inv.ID, AmountCents: inv.TotalCents,
				Currency: inv.Currency, Status: inv.Status, BillingEmail: s.BillingEmail}
		} else {
			payload = events.SubscriptionChanged{AccountID: s.AccountID, SubscriptionID: s.StripeSubscriptionID, Plan: s.Plan,
				Status: s.Status, BillingEmail: s.BillingEmail}
		}
		region := s.Region
		if region != "eu" {
			region = "us"
		}
		out = append(out, outbox.Event{Topic: events.TopicBilling, Envelope: events.Envelope{EventID: uuid.NewString(), Type: e.Type,
			OccurredAt: at, Subject: s.AccountID, Actor: actor, Region: region, AggregateVersion: s.Version, Payload: payload}})
	}
	return out
}
