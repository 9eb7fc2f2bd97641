package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/acme/platform/services/billing/internal/app"
	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/errs"
)

// Stripe is the Stripe API through stripe-go: the base URL from configuration (stripe-mock locally
// and in the tests), the key and the webhook secret from the secret store. stripe-go retries network
// failures and 5xx answers with the same idempotency key, so a retried POST is performed once.
type Stripe struct {
	api           *client.API
	webhookSecret string
	tolerance     time.Duration
}

// NewStripe makes the client. baseURL is Stripe's API (https://api.stripe.com) or a stand-in.
func NewStripe(baseURL, apiKey, webhookSecret string, log *slog.Logger) *Stripe {
	cfg := &stripe.BackendConfig{
		URL:               stripe.String(baseURL),
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     quietLogger{log},
	}
	api := &client.API{}
	api.Init(apiKey, stripe.NewBackendsWithConfig(cfg))
	return &Stripe{api: api, webhookSecret: webhookSecret, tolerance: webhook.DefaultTolerance}
}

func keyed(p *stripe.Params, ctx context.Context, key string) {
	p.Context = ctx
	p.SetIdempotencyKey(key)
}

// unavailable wraps a Stripe failure: the caller may retry with the same operation id.
func unavailable(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
		return errs.Unavailable("billing.stripe_refused", "Stripe refused the request: "+string(se.Code), err)
	}
	return errs.Unavailable("billing.stripe_unavailable", "Stripe cannot be reached; retry with the same Idempotency-Key", err)
}

// CreateCustomer creates the account's Stripe customer.
func (s *Stripe) CreateCustomer(ctx context.Context, accountID, email, key string) (string, error) {
	p := &stripe.CustomerParams{Email: stripe.String(email)}
	p.AddMetadata("acme_account_id", accountID)
	keyed(&p.Params, ctx, key)
	c, err := s.api.Customers.New(p)
	if err != nil {
		return "", unavailable(err)
	}
	return c.ID, nil
}

// CreateSubscription subscribes the customer to the price.
func (s *Stripe) CreateSubscription(ctx context.Context, customerID, priceID, accountID, key string) (string, error) {
	p := &stripe.SubscriptionParams{Customer: stripe.String(customerID),
		Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(priceID)}}}
	p.AddMetadata("acme_account_id", accountID)
	keyed(&p.Params, ctx, key)
	sub, err := s.api.Subscriptions.New(p)
	if err != nil {
		return "", unavailable(err)
	}
	return sub.ID, nil
}

// ChangePrice moves the subscription's item to the price, prorated by Stripe as by us.
func (s *Stripe) ChangePrice(ctx context.Context, subscriptionID, priceID, key string) error {
	get := &stripe.SubscriptionParams{}
	get.Context = ctx
	sub, err := s.api.Subscriptions.Get(subscriptionID, get)
	if err != nil {
		return unavailable(err)
	}
	item := &stripe.SubscriptionItemsParams{Price: stripe.String(priceID)}
	if sub.Items != nil && len(sub.Items.Data) > 0 {
		item.ID = stripe.String(sub.Items.Data[0].ID)
	}
	p := &stripe.SubscriptionParams{Items: []*stripe.SubscriptionItemsParams{item},
		ProrationBehavior: stripe.String(string(stripe.SubscriptionSchedulePhaseProrationBehaviorCreateProrations))}
	keyed(&p.Params, ctx, key)
	if _, err := s.api.Subscriptions.Update(subscriptionID, p); err != nil {
		return unavailable(err)
	}
	return nil
}

// SetCancelAtPeriodEnd cancels (or resumes) the subscription at the end of its period.
func (s *Stripe) SetCancelAtPeriodEnd(ctx context.Context, subscriptionID string, cancel bool, key string) error {
	p := &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(cancel)}
	keyed(&p.Params, ctx, key)
	if _, err := s.api.Subscriptions.Update(subscriptionID, p); err != nil {
		return unavailable(err)
	}
	return nil
}

// CancelNow cancels the subscription at once.
func (s *Stripe) CancelNow(ctx context.Context, subscriptionID, key string) error {
	p := &stripe.SubscriptionCancelParams{}
	keyed(&p.Params, ctx, key)
	if _, err := s.api.Subscriptions.Cancel(subscriptionID, p); err != nil {
		return unavailable(err)
	}
	return nil
}

// SubscriptionStatus is Stripe's status of the subscription now.
func (s *Stripe) SubscriptionStatus(ctx context.Context, subscriptionID string) (string, error) {
	p := &stripe.SubscriptionParams{}
	p.Context = ctx
	sub, err := s.api.Subscriptions.Get(subscriptionID, p)
	if err != nil {
		return "", unavailable(err)
	}
	return string(sub.Status), nil
}

// MirrorInvoice creates a draft invoice for the customer and one invoice item per line on it.
func (s *Stripe) MirrorInvoice(ctx context.Context, customerID string, inv billing.Invoice, key string) (string, error) {
	p := &stripe.InvoiceParams{Customer: stripe.String(customerID), AutoAdvance: stripe.Bool(false),
		Currency: stripe.String(inv.Currency), Description: stripe.String("Acme, " + inv.PeriodStart.Format("2006-01-02") + " to " + inv.PeriodEnd.Format("2006-01-02"))}
	p.AddMetadata("acme_invoice_id", inv.ID)
	keyed(&p.Params, ctx, key)
	out, err := s.api.Invoices.New(p)
	if err != nil {
		return "", unavailable(err)
	}
	for i, l := range inv.Lines {
		ip := &stripe.InvoiceItemParams{Customer: stripe.String(customerID), Invoice: stripe.String(out.ID),
			Amount: stripe.Int64(l.AmountCents), Currency: stripe.String(inv.Currency), Description: stripe.String(l.Description)}
		keyed(&ip.Params, ctx, key+"-line-"+strconv.Itoa(i))
		if _, err := s.api.InvoiceItems.New(ip); err != nil {
			return "", unavailable(err)
		}
	}
	return out.ID, nil
}

// ReportUsage sends one meter event (Stripe's metered billing) with the period's quantity.
func (s *Stripe) ReportUsage(ctx context.Context, customerID, meter string, value int64, at time.Time, key string) error {
	p := &stripe.BillingMeterEventParams{EventName: stripe.String("acme_" + meter), Identifier: stripe.String(key),
		Timestamp: stripe.Int64(at.Unix()),
		Payload:   map[string]string{"stripe_customer_id": customerID, "value": strconv.FormatInt(value, 10)}}
	keyed(&p.Params, ctx, key)
	if _, err := s.api.BillingMeterEvents.New(p); err != nil {
		return unavailable(err)
	}
	return nil
}

// ParseWebhook verifies the Stripe-Signature header (HMAC of the timestamped raw body with the
// webhook secret, within the tolerance) and reads what billing needs of the event.
func (s *Stripe) ParseWebhook(payload []byte, signature string) (app.WebhookEvent, error) {
	e, err := webhook.ConstructEventWithOptions(payload, signature, s.webhookSecret,
		webhook.ConstructEventOptions{Tolerance: s.tolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return app.WebhookEvent{}, app.ErrBadSignature()
	}
	out := app.WebhookEvent{ID: e.ID, Type: string(e.Type), Created: time.Unix(e.Created, 0).UTC()}
	if e.Data == nil {
		return out, nil
	}
	var obj struct {
		ID                string `json:"id"`
		Object            string `json:"object"`
		Status            string `json:"status"`
		CancelAtPeriodEnd bool   `json:"cancel_at_period_end"`
		AttemptCount      int64  `json:"attempt_count"`
	}
	if err := json.Unmarshal(e.Data.Raw, &obj); err != nil {
		return app.WebhookEvent{}, errs.Invalid("billing.webhook_invalid", "", "the event's data object is not readable")
	}
	switch obj.Object {
	case "subscription":
		out.SubscriptionID, out.Status, out.CancelAtPeriodEnd = obj.ID, obj.Status, obj.CancelAtPeriodEnd
	case "invoice":
		out.InvoiceID, out.AttemptCount = obj.ID, obj.AttemptCount
	}
	return out, nil
}

// quietLogger sends stripe-go's own log lines to the service's logger at debug level.
type quietLogger struct{ log *slog.Logger }

func (l quietLogger) Debugf(format string, v ...any) {}
func (l quietLogger) Infof(format string, v ...any)  {}
func (l quietLogger) Warnf(format string, v ...any) {
	l.log.Warn("stripe-go", "message", fmt.Sprintf(format, v...))
}
func (l quietLogger) Errorf(format string, v ...any) {
	l.log.Error("stripe-go", "message", fmt.Sprintf(format, v...))
}
