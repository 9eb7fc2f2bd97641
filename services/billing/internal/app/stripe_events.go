package app

import (
	"context"
	"strings"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/errs"
)

// Webhook outcomes.
const (
	Applied   = "applied"
	Duplicate = "duplicate"
	Stale     = "stale"
	Ignored   = "ignored"
)

// HandleWebhook verifies one Stripe delivery and applies its event once: the event id is recorded in
// the transaction of its effect, so a redelivery (or a retry after a crash) finds it and does nothing.
// An event older than the state it would change is recorded and changes nothing. Types billing does
// not act on are acknowledged and logged.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) (string, error) {
	e, err := s.Stripe.ParseWebhook(payload, signature)
	if err != nil {
		return "", err
	}
	outcome := Ignored
	err = s.Store.InTx(ctx, func(tx Tx) error {
		first, err := tx.FirstStripeEvent(ctx, e.ID, e.Type, e.Created, Applied)
		if err != nil {
			return err
		}
		if !first {
			outcome = Duplicate
			return nil
		}
		switch {
		case strings.HasPrefix(e.Type, "customer.subscription."):
			outcome, err = s.applySubscription(ctx, tx, e)
		case e.Type == "invoice.payment_failed", e.Type == "invoice.paid":
			outcome, err = s.applyInvoice(ctx, tx, e)
		default:
			outcome = Ignored
		}
		if err != nil {
			return err
		}
		return tx.SetStripeEventOutcome(ctx, e.ID, outcome)
	})
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "stripe event", "stripe_event_id", e.ID, "type", e.Type, "outcome", outcome)
	return outcome, nil
}

func (s *Service) applySubscription(ctx context.Context, tx Tx, e WebhookEvent) (string, error) {
	sub, ok, err := tx.LockSubscriptionByStripeID(ctx, e.SubscriptionID)
	if err != nil || !ok {
		return Ignored, err // not one of ours (or not yet written: reconciliation catches up)
	}
	status := e.Status
	if e.Type == "customer.subscription.deleted" {
		status = billing.Canceled
	}
	applied, evs := sub.ApplyStripe(billing.StripeState{Status: status, CancelAtPeriodEnd: e.CancelAtPeriodEnd, At: e.Created})
	if !applied {
		return Stale, nil
	}
	if err := tx.SaveSubscription(ctx, sub); err != nil {
		return "", err
	}
	return Applied, tx.Publish(ctx, published("stripe", e.Created, evs)...)
}

func (s *Service) applyInvoice(ctx context.Context, tx Tx, e WebhookEvent) (string, error) {
	inv, ok, err := tx.LockInvoiceByStripeID(ctx, e.InvoiceID)
	if err != nil || !ok {
		return Ignored, err
	}
	sub, _, err := tx.LockSubscription(ctx, inv.AccountID)
	if err != nil {
		return "", err
	}
	var evs []billing.Event
	if e.Type == "invoice.paid" {
		evs = inv.Paid(sub)
	} else if evs, err = inv.PaymentFailed(e.AttemptCount, sub); err != nil {
		return "", err
	}
	if len(evs) == 0 {
		return Stale, nil // an attempt already told, or news about a paid invoice
	}
	if err := tx.SaveInvoice(ctx, inv); err != nil {
		return "", err
	}
	return Applied, tx.Publish(ctx, published("stripe", e.Created, evs)...)
}

// ErrBadSignature is what a delivery that is not Stripe's (or too old) answers.
func ErrBadSignature() error {
	return &errs.Error{Kind: errs.KindInvalid, Code: "billing.webhook_signature_invalid",
		Message: "the Stripe-Signature header does not match the body, or its timestamp is outside the tolerance"}
}
