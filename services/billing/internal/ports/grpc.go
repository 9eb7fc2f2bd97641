// Package ports serves the billing contract (acme.billing.v1) over gRPC and consumes project events.
package ports

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"
	"github.com/acme/platform/services/billing/internal/app"
	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// GRPC adapts the app to the generated server interface.
type GRPC struct {
	billingv1.UnimplementedBillingServiceServer
	App *app.Service
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func limits(p billing.Plan) *billingv1.Limits {
	return &billingv1.Limits{Projects: p.Limit(billing.MeterProjects), Members: p.Limit(billing.MeterMembers),
		StorageBytes: p.Limit(billing.MeterStorageBytes)}
}

func planProto(p billing.Plan) *billingv1.Plan {
	return &billingv1.Plan{Name: p.Name, PriceCents: p.PriceCents, Currency: p.Currency, Limits: limits(p), OverageCents: p.OverageCents}
}

func subscriptionProto(s billing.Subscription) *billingv1.Subscription {
	return &billingv1.Subscription{AccountId: s.AccountID, Plan: s.Plan, Status: s.Status, CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		PeriodStart: ts(s.PeriodStart), PeriodEnd: ts(s.PeriodEnd), StripeCustomerId: s.StripeCustomerID,
		StripeSubscriptionId: s.StripeSubscriptionID}
}

func invoiceProto(i billing.Invoice) *billingv1.Invoice {
	out := &billingv1.Invoice{Id: i.ID, AccountId: i.AccountID, PeriodStart: ts(i.PeriodStart), PeriodEnd: ts(i.PeriodEnd),
		TotalCents: i.TotalCents, Currency: i.Currency, Status: i.Status, StripeInvoiceId: i.StripeInvoiceID, CreatedAt: ts(i.CreatedAt)}
	for _, l := range i.Lines {
		out.Lines = append(out.Lines, &billingv1.InvoiceLine{Description: l.Description, Meter: l.Meter, Quantity: l.Quantity,
			UnitCents: l.UnitCents, AmountCents: l.AmountCents})
	}
	return out
}

// user is the signed-in caller; billing answers no anonymous or system caller about an account.
func user(ctx context.Context) (caller.Caller, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return c, err
	}
	if c.IsSystem() {
		return c, errs.PermissionDenied("billing.account_only", "billing answers a signed-in account about itself")
	}
	return c, nil
}

func (g GRPC) ListPlans(ctx context.Context, _ *billingv1.ListPlansRequest) (*billingv1.ListPlansResponse, error) {
	plans, err := g.App.Plans(ctx)
	if err != nil {
		return nil, err
	}
	out := &billingv1.ListPlansResponse{}
	for _, p := range plans {
		out.Plans = append(out.Plans, planProto(p))
	}
	return out, nil
}

func (g GRPC) GetSubscription(ctx context.Context, _ *billingv1.GetSubscriptionRequest) (*billingv1.GetSubscriptionResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	s, err := g.App.Subscription(ctx, c)
	if err != nil {
		return nil, err
	}
	return &billingv1.GetSubscriptionResponse{Subscription: subscriptionProto(s)}, nil
}

func (g GRPC) Subscribe(ctx context.Context, in *billingv1.SubscribeRequest) (*billingv1.SubscribeResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	s, err := g.App.Subscribe(ctx, c, in.GetPlan(), in.GetOperationId())
	if err != nil {
		return nil, err
	}
	return &billingv1.SubscribeResponse{Subscription: subscriptionProto(s)}, nil
}

func (g GRPC) PreviewChange(ctx context.Context, in *billingv1.PreviewChangeRequest) (*billingv1.PreviewChangeResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	from, to, cents, end, err := g.App.PreviewChange(ctx, c, in.GetPlan())
	if err != nil {
		return nil, err
	}
	return &billingv1.PreviewChangeResponse{FromPlan: from.Name, ToPlan: to.Name, ProratedCents: cents, Currency: to.Currency,
		PeriodEnd: ts(end)}, nil
}

func (g GRPC) ChangePlan(ctx context.Context, in *billingv1.ChangePlanRequest) (*billingv1.ChangePlanResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	s, cents, err := g.App.ChangePlan(ctx, c, in.GetPlan(), in.GetOperationId())
	if err != nil {
		return nil, err
	}
	return &billingv1.ChangePlanResponse{Subscription: subscriptionProto(s), ProratedCents: cents}, nil
}

func (g GRPC) CancelSubscription(ctx context.Context, in *billingv1.CancelSubscriptionRequest) (*billingv1.CancelSubscriptionResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	s, err := g.App.Cancel(ctx, c, in.GetOperationId())
	if err != nil {
		return nil, err
	}
	return &billingv1.CancelSubscriptionResponse{Subscription: subscriptionProto(s)}, nil
}

func (g GRPC) ResumeSubscription(ctx context.Context, in *billingv1.ResumeSubscriptionRequest) (*billingv1.ResumeSubscriptionResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	s, err := g.App.Resume(ctx, c, in.GetOperationId())
	if err != nil {
		return nil, err
	}
	return &billingv1.ResumeSubscriptionResponse{Subscription: subscriptionProto(s)}, nil
}

func (g GRPC) GetUsage(ctx context.Context, _ *billingv1.GetUsageRequest) (*billingv1.GetUsageResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	plan, sub, usage, err := g.App.Usage(ctx, c)
	if err != nil {
		return nil, err
	}
	return &billingv1.GetUsageResponse{Plan: plan.Name, PeriodStart: ts(sub.PeriodStart), PeriodEnd: ts(sub.PeriodEnd), Usage: usage,
		Limits: limits(plan)}, nil
}

func (g GRPC) ListInvoices(ctx context.Context, _ *billingv1.ListInvoicesRequest) (*billingv1.ListInvoicesResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	invs, err := g.App.Invoices(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &billingv1.ListInvoicesResponse{}
	for _, i := range invs {
		out.Invoices = append(out.Invoices, invoiceProto(i))
	}
	return out, nil
}

func (g GRPC) GetInvoice(ctx context.Context, in *billingv1.GetInvoiceRequest) (*billingv1.GetInvoiceResponse, error) {
	c, err := user(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := g.App.Invoice(ctx, c, in.GetInvoiceId())
	if err != nil {
		return nil, err
	}
	return &billingv1.GetInvoiceResponse{Invoice: invoiceProto(inv)}, nil
}

// HandleStripeWebhook takes a delivery as the gateway received it; no caller: the signature is the
// credential.
func (g GRPC) HandleStripeWebhook(ctx context.Context, in *billingv1.HandleStripeWebhookRequest) (*billingv1.HandleStripeWebhookResponse, error) {
	outcome, err := g.App.HandleWebhook(ctx, in.GetPayload(), in.GetSignature())
	if err != nil {
		return nil, err
	}
	return &billingv1.HandleStripeWebhookResponse{Outcome: outcome}, nil
}

// CheckEntitlement is asked by platform services (projects, files) before they create what a plan
// limits.
func (g GRPC) CheckEntitlement(ctx context.Context, in *billingv1.CheckEntitlementRequest) (*billingv1.CheckEntitlementResponse, error) {
	plan, err := g.App.CheckEntitlement(ctx, in.GetAccountId(), in.GetResource(), in.GetTotal())
	if errs.As(err).Kind == errs.KindPaymentRequired {
		return &billingv1.CheckEntitlementResponse{Allowed: false, Limit: plan.Limit(in.GetResource()), Plan: plan.Name}, nil
	}
	if err != nil {
		return nil, err
	}
	return &billingv1.CheckEntitlementResponse{Allowed: true, Limit: plan.Limit(in.GetResource()), Plan: plan.Name}, nil
}

// Reconcile is for platform admins.
func (g GRPC) Reconcile(ctx context.Context, _ *billingv1.ReconcileRequest) (*billingv1.ReconcileResponse, error) {
	if c, err := caller.From(ctx); err != nil || !c.IsAdmin() {
		return nil, errs.PermissionDenied("billing.admin_only", "only platform admins reconcile billing")
	}
	checked, repaired, err := g.App.Reconcile(ctx)
	if err != nil {
		return nil, err
	}
	return &billingv1.ReconcileResponse{Checked: int64(checked), Repaired: int64(repaired)}, nil
}

// ProjectEvents counts acme.projects.events into usage.
type ProjectEvents struct {
	App *app.Service
	Log *slog.Logger
}

// Handle takes one decoded event (wrap with subscriber.Events).
func (h ProjectEvents) Handle(ctx context.Context, _ string, e events.Envelope) error {
	counted, err := h.App.CountProjectEvent(ctx, e)
	if err != nil {
		return err
	}
	if !counted {
		h.Log.DebugContext(ctx, "project event already counted", "event_id", e.EventID)
	}
	return nil
}
