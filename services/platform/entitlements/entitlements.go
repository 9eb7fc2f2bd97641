// Package entitlements asks billing, through Dapr service invocation, whether an account's plan
// allows what a service is about to create: projects before a project, files before an upload.
package entitlements

import (
	"context"
	"strconv"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"
	"github.com/acme/platform/services/platform/errs"
)

// Client asks billing, through Dapr service invocation, whether a plan allows what is about to
// be created. Asked at the moment of the create (rather than from limits pushed as events), so an
// upgrade applies at once and a downgrade cannot be outrun; when billing cannot answer, the create
// is refused as unavailable rather than let past a limit.
type Client struct {
	Client billingv1.BillingServiceClient
}

// Allow is nil when accountID's plan allows total of meter.
func (b Client) Allow(ctx context.Context, accountID, meter string, total int64) error {
	resp, err := b.Client.CheckEntitlement(ctx, &billingv1.CheckEntitlementRequest{AccountId: accountID, Resource: meter, Total: total})
	if err != nil {
		return errs.Unavailable("billing.unavailable", "billing cannot be reached to check the plan's limits", err)
	}
	if !resp.GetAllowed() {
		return &errs.Error{Kind: errs.KindPaymentRequired, Code: "billing.plan_limit_reached", Field: meter,
			Message: "the " + resp.GetPlan() + " plan allows " + strconv.FormatInt(resp.GetLimit(), 10) + " " + meter + "; upgrade the plan for more"}
	}
	return nil
}
