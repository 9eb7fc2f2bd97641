package httpapi

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"
	"github.com/acme/platform/services/platform/errs"
)

// Plan is a plan as clients see it.
type Plan struct {
	Name         string           `json:"name"`
	PriceCents   int64            `json:"price_cents"`
	Currency     string           `json:"currency"`
	Limits       Limits           `json:"limits"`
	OverageCents map[string]int64 `json:"overage_cents"`
}

// Limits are a plan's limits; -1 is none.
type Limits struct {
	Projects     int64 `json:"projects"`
	Members      int64 `json:"members"`
	StorageBytes int64 `json:"storage_bytes"`
}

// Subscription is the caller's subscription.
type Subscription struct {
	Plan              string     `json:"plan"`
	Status            string     `json:"status"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	PeriodStart       *time.Time `json:"period_start,omitempty"`
	PeriodEnd         *time.Time `json:"period_end,omitempty"`
}

// InvoiceLine is one line of an invoice.
type InvoiceLine struct {
	Description string `json:"description"`
	Meter       string `json:"meter,omitempty"`
	Quantity    int64  `json:"quantity"`
	UnitCents   int64  `json:"unit_cents"`
	AmountCents int64  `json:"amount_cents"`
}

// Invoice is one of the caller's invoices.
type Invoice struct {
	ID          string        `json:"id"`
	PeriodStart time.Time     `json:"period_start"`
	PeriodEnd   time.Time     `json:"period_end"`
	Lines       []InvoiceLine `json:"lines"`
	TotalCents  int64         `json:"total_cents"`
	Currency    string        `json:"currency"`
	Status      string        `json:"status"`
	CreatedAt   time.Time     `json:"created_at"`
	// StripeInvoiceID is the invoice's mirror in Stripe, once it is there.
	StripeInvoiceID string `json:"stripe_invoice_id,omitempty"`
}

func limitsView(l *billingv1.Limits) Limits {
	return Limits{Projects: l.GetProjects(), Members: l.GetMembers(), StorageBytes: l.GetStorageBytes()}
}

func subscriptionView(s *billingv1.Subscription) Subscription {
	return Subscription{Plan: s.GetPlan(), Status: s.GetStatus(), CancelAtPeriodEnd: s.GetCancelAtPeriodEnd(),
		PeriodStart: optTime(s.GetPeriodStart()), PeriodEnd: optTime(s.GetPeriodEnd())}
}

func invoiceView(i *billingv1.Invoice) Invoice {
	out := Invoice{ID: i.GetId(), PeriodStart: i.GetPeriodStart().AsTime().UTC(), PeriodEnd: i.GetPeriodEnd().AsTime().UTC(),
		Lines: []InvoiceLine{}, TotalCents: i.GetTotalCents(), Currency: i.GetCurrency(), Status: i.GetStatus(),
		CreatedAt: i.GetCreatedAt().AsTime().UTC(), StripeInvoiceID: i.GetStripeInvoiceId()}
	for _, l := range i.GetLines() {
		out.Lines = append(out.Lines, InvoiceLine{Description: l.GetDescription(), Meter: l.GetMeter(), Quantity: l.GetQuantity(),
			UnitCents: l.GetUnitCents(), AmountCents: l.GetAmountCents()})
	}
	return out
}

func (a *API) listPlans(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.ListPlans(ctx, &billingv1.ListPlansRequest{})
	if err != nil {
		return answer{}, err
	}
	out := []Plan{}
	for _, p := range resp.GetPlans() {
		overage := p.GetOverageCents()
		if overage == nil {
			overage = map[string]int64{}
		}
		out = append(out, Plan{Name: p.GetName(), PriceCents: p.GetPriceCents(), Currency: p.GetCurrency(),
			Limits: limitsView(p.GetLimits()), OverageCents: overage})
	}
	return okWith(gin.H{"plans": out}), nil
}

func (a *API) getSubscription(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.GetSubscription(ctx, &billingv1.GetSubscriptionRequest{})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"subscription": subscriptionView(resp.GetSubscription())}), nil
}

type planRequest struct {
	Plan *string `json:"plan"`
}

// operationID is the client's Idempotency-Key: a retry with the same key answers the first result
// and charges nothing twice. Absent, the call is not retry-safe (a new key is made).
func operationID(c *gin.Context) string { return c.GetHeader("Idempotency-Key") }

func (a *API) subscribe(c *gin.Context, ctx context.Context) (answer, error) {
	req, err := jsonBody[planRequest](c)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Billing.Subscribe(ctx, &billingv1.SubscribeRequest{Plan: *req.Plan, OperationId: operationID(c)})
	if err != nil {
		return answer{}, err
	}
	return createdAt("/v1/billing/subscription", gin.H{"subscription": subscriptionView(resp.GetSubscription())}), nil
}

func (a *API) previewPlanChange(c *gin.Context, ctx context.Context) (answer, error) {
	req, err := jsonBody[planRequest](c)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Billing.PreviewChange(ctx, &billingv1.PreviewChangeRequest{Plan: *req.Plan})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"from_plan": resp.GetFromPlan(), "to_plan": resp.GetToPlan(), "prorated_cents": resp.GetProratedCents(),
		"currency": resp.GetCurrency(), "period_end": resp.GetPeriodEnd().AsTime().UTC()}), nil
}

func (a *API) changePlan(c *gin.Context, ctx context.Context) (answer, error) {
	req, err := jsonBody[planRequest](c)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Billing.ChangePlan(ctx, &billingv1.ChangePlanRequest{Plan: *req.Plan, OperationId: operationID(c)})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"subscription": subscriptionView(resp.GetSubscription()), "prorated_cents": resp.GetProratedCents()}), nil
}

func (a *API) cancelSubscription(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.CancelSubscription(ctx, &billingv1.CancelSubscriptionRequest{OperationId: operationID(c)})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"subscription": subscriptionView(resp.GetSubscription())}), nil
}

func (a *API) resumeSubscription(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.ResumeSubscription(ctx, &billingv1.ResumeSubscriptionRequest{OperationId: operationID(c)})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"subscription": subscriptionView(resp.GetSubscription())}), nil
}

func (a *API) getUsage(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.GetUsage(ctx, &billingv1.GetUsageRequest{})
	if err != nil {
		return answer{}, err
	}
	usage := resp.GetUsage()
	if usage == nil {
		usage = map[string]int64{}
	}
	body := gin.H{"plan": resp.GetPlan(), "usage": usage, "limits": limitsView(resp.GetLimits())}
	if resp.GetPeriodStart() != nil { // an account on free has no billing period
		body["period_start"], body["period_end"] = optTime(resp.GetPeriodStart()), optTime(resp.GetPeriodEnd())
	}
	return okWith(body), nil
}

func (a *API) listInvoices(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.ListInvoices(ctx, &billingv1.ListInvoicesRequest{})
	if err != nil {
		return answer{}, err
	}
	out := []Invoice{}
	for _, i := range resp.GetInvoices() {
		out = append(out, invoiceView(i))
	}
	return okWith(gin.H{"invoices": out}), nil
}

func (a *API) getInvoice(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "billing.invoice_not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Billing.GetInvoice(ctx, &billingv1.GetInvoiceRequest{InvoiceId: id})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"invoice": invoiceView(resp.GetInvoice())}), nil
}

// stripeWebhook passes Stripe's delivery to billing as it came: the raw body (the signature covers
// its exact bytes) and the Stripe-Signature header. Billing verifies both.
func (a *API) stripeWebhook(c *gin.Context, ctx context.Context) (answer, error) {
	body, err := readJSON(c) // Stripe sends one JSON object; anything else is not a delivery
	if err != nil {
		return answer{}, err
	}
	sig := c.GetHeader("Stripe-Signature")
	if sig == "" || len(sig) > 1024 {
		return answer{}, errs.Invalid("billing.webhook_signature_invalid", "Stripe-Signature", "the Stripe-Signature header is missing")
	}
	resp, err := a.Billing.HandleStripeWebhook(ctx, &billingv1.HandleStripeWebhookRequest{Payload: body, Signature: sig})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"received": true, "outcome": resp.GetOutcome()}), nil
}

func (a *API) reconcileBilling(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Billing.Reconcile(ctx, &billingv1.ReconcileRequest{})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"checked": resp.GetChecked(), "repaired": resp.GetRepaired()}), nil
}
