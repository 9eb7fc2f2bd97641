package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/platform/services/platform/events"
)

type subscriptionView struct {
	Plan              string    `json:"plan"`
	Status            string    `json:"status"`
	CancelAtPeriodEnd bool      `json:"cancel_at_period_end"`
	PeriodStart       time.Time `json:"period_start"`
	PeriodEnd         time.Time `json:"period_end"`
}

type invoiceView struct {
	ID    string `json:"id"`
	Lines []struct {
		Description string `json:"description"`
		Meter       string `json:"meter"`
		Quantity    int64  `json:"quantity"`
		UnitCents   int64  `json:"unit_cents"`
		AmountCents int64  `json:"amount_cents"`
	} `json:"lines"`
	TotalCents      int64     `json:"total_cents"`
	Currency        string    `json:"currency"`
	Status          string    `json:"status"`
	PeriodStart     time.Time `json:"period_start"`
	PeriodEnd       time.Time `json:"period_end"`
	StripeInvoiceID string    `json:"stripe_invoice_id"`
}

func (a account) subscription(t *testing.T) subscriptionView {
	t.Helper()
	var out struct{ Subscription subscriptionView }
	a.do(t, "GET", "/v1/billing/subscription", nil).expect(t, http.StatusOK).decode(t, &out)
	return out.Subscription
}

// subscribe puts the account on plan with a fresh Idempotency-Key.
func (a account) subscribe(t *testing.T, plan string) subscriptionView {
	t.Helper()
	var out struct{ Subscription subscriptionView }
	a.do(t, "POST", "/v1/billing/subscription", map[string]any{"plan": plan}, "Idempotency-Key", uuid.NewString()).
		expect(t, http.StatusCreated).decode(t, &out)
	return out.Subscription
}

// stripeCallsOf are the Stripe calls made for account since mark: billing's idempotency keys name
// the account.
func stripeCallsOf(mark int, method, path, accountID string) []stripeCall {
	var out []stripeCall
	for _, c := range env.stripe.since(mark, method, path) {
		if strings.Contains(c.IdempotencyKey, accountID) {
			out = append(out, c)
		}
	}
	return out
}

func TestBilling_PlansAreData(t *testing.T) {
	a := newAccount(t, "plans")
	var out struct {
		Plans []struct {
			Name       string `json:"name"`
			PriceCents int64  `json:"price_cents"`
			Limits     struct {
				Projects int64 `json:"projects"`
			} `json:"limits"`
		}
	}
	a.do(t, "GET", "/v1/billing/plans", nil).expect(t, http.StatusOK).decode(t, &out)
	if len(out.Plans) != 3 || out.Plans[0].Name != "free" || out.Plans[0].PriceCents != 0 || out.Plans[0].Limits.Projects != 3 ||
		out.Plans[2].Name != "enterprise" || out.Plans[2].Limits.Projects != -1 {
		t.Fatalf("plans: %+v", out.Plans)
	}
	request(t, "GET", "/v1/billing/plans", nil, nil).expectError(t, http.StatusUnauthorized, "auth.token_missing")
}

// Subscribe, retry, preview, upgrade with proration, cancel at period end, resume — and what Stripe
// was asked, with which idempotency keys.
func TestBilling_SubscriptionLifecycleWithProrationPreview(t *testing.T) {
	a := newAccount(t, "lifecycle")
	if s := a.subscription(t); s.Plan != "free" || s.Status != "free" {
		t.Fatalf("a new account: %+v", s)
	}
	mark := env.stripe.mark()
	key := uuid.NewString()
	var first, again struct{ Subscription subscriptionView }
	a.do(t, "POST", "/v1/billing/subscription", map[string]any{"plan": "pro"}, "Idempotency-Key", key).expect(t, http.StatusCreated).decode(t, &first)
	a.do(t, "POST", "/v1/billing/subscription", map[string]any{"plan": "pro"}, "Idempotency-Key", key).expect(t, http.StatusCreated).decode(t, &again)
	if first.Subscription.Plan != "pro" || first.Subscription.Status != "active" || first.Subscription != again.Subscription {
		t.Fatalf("subscribe %+v, retried %+v", first.Subscription, again.Subscription)
	}
	if c := stripeCallsOf(mark, "POST", "/v1/customers", a.ID); len(c) != 1 {
		t.Errorf("Stripe customers created: %+v, want one", c)
	}
	if c := stripeCallsOf(mark, "POST", "/v1/subscriptions", a.ID); len(c) != 1 || !strings.Contains(c[0].IdempotencyKey, key) {
		t.Errorf("Stripe subscriptions created: %+v, want one keyed by our operation %s", c, key)
	}
	a.do(t, "POST", "/v1/billing/subscription", map[string]any{"plan": "enterprise"}, "Idempotency-Key", uuid.NewString()).
		expectError(t, http.StatusConflict, "billing.already_subscribed")

	// The preview says what the upgrade charges; the upgrade, a moment later, charges no more.
	var preview struct {
		FromPlan      string `json:"from_plan"`
		ToPlan        string `json:"to_plan"`
		ProratedCents int64  `json:"prorated_cents"`
	}
	a.do(t, "POST", "/v1/billing/subscription/preview", map[string]any{"plan": "enterprise"}).expect(t, http.StatusOK).decode(t, &preview)
	const diff = 19900 - 2900
	if preview.FromPlan != "pro" || preview.ToPlan != "enterprise" || preview.ProratedCents <= 0 || preview.ProratedCents > diff {
		t.Fatalf("preview: %+v", preview)
	}
	if s := a.subscription(t); s.Plan != "pro" {
		t.Fatalf("the preview changed the plan: %+v", s)
	}
	var changed struct {
		Subscription  subscriptionView
		ProratedCents int64 `json:"prorated_cents"`
	}
	changeKey := uuid.NewString()
	a.do(t, "PATCH", "/v1/billing/subscription", map[string]any{"plan": "enterprise"}, "Idempotency-Key", changeKey).
		expect(t, http.StatusOK).decode(t, &changed)
	if changed.Subscription.Plan != "enterprise" || changed.ProratedCents <= 0 || changed.ProratedCents > preview.ProratedCents {
		t.Fatalf("upgrade: %+v after a preview of %d", changed, preview.ProratedCents)
	}
	if c := stripeCallsOf(mark, "POST", "/v1/subscriptions/", a.ID); len(c) != 1 || !strings.Contains(c[0].IdempotencyKey, changeKey) {
		t.Errorf("Stripe subscription updates: %+v", c)
	}
	a.do(t, "PATCH", "/v1/billing/subscription", map[string]any{"plan": "enterprise"}, "Idempotency-Key", uuid.NewString()).
		expectError(t, http.StatusConflict, "billing.plan_unchanged")

	var canceled, resumed struct{ Subscription subscriptionView }
	a.do(t, "POST", "/v1/billing/subscription/cancel", nil, "Idempotency-Key", uuid.NewString()).expect(t, http.StatusOK).decode(t, &canceled)
	if !canceled.Subscription.CancelAtPeriodEnd || canceled.Subscription.Status != "active" {
		t.Fatalf("cancel: %+v", canceled.Subscription)
	}
	a.do(t, "POST", "/v1/billing/subscription/cancel", nil).expectError(t, http.StatusConflict, "billing.already_canceled")
	a.do(t, "POST", "/v1/billing/subscription/resume", nil, "Idempotency-Key", uuid.NewString()).expect(t, http.StatusOK).decode(t, &resumed)
	if resumed.Subscription.CancelAtPeriodEnd {
		t.Fatalf("resume: %+v", resumed.Subscription)
	}
	a.do(t, "POST", "/v1/billing/subscription/resume", nil).expectError(t, http.StatusConflict, "billing.not_canceled")
	if c := stripeCallsOf(mark, "POST", "/v1/subscriptions/", a.ID); len(c) != 3 {
		t.Errorf("Stripe subscription updates after cancel and resume: %d, want 3", len(c))
	}
}

// A Stripe response lost on the way back: stripe-go retries with the same idempotency key, so Stripe
// performs the create once, and billing holds one subscription.
func TestBilling_ARetriedStripeCallChargesOnce(t *testing.T) {
	a := newAccount(t, "lost-response")
	mark := env.stripe.mark()
	env.stripe.loseResponse("/v1/subscriptions")
	s := a.subscribe(t, "pro")
	calls := stripeCallsOf(mark, "POST", "/v1/subscriptions", a.ID)
	if len(calls) != 2 || calls[0].IdempotencyKey == "" || calls[0].IdempotencyKey != calls[1].IdempotencyKey {
		t.Fatalf("Stripe saw %+v; want the create twice with one idempotency key", calls)
	}
	if s.Status != "active" {
		t.Fatalf("%+v", s)
	}
}

// stripeEvent is a signed Stripe webhook delivery of the suite's own making.
func stripeEvent(t *testing.T, id, typ string, created time.Time, object map[string]any, signedAt time.Time) ([]byte, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": created.Unix(),
		"api_version": "2023-10-16", "livemode": false, "data": map[string]any{"object": object}})
	if err != nil {
		t.Fatal(err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: env.stripeWebhookSecret, Timestamp: signedAt})
	return body, signed.Header
}

func deliver(t *testing.T, body []byte, signature string) reply {
	t.Helper()
	return request(t, "POST", "/v1/billing/stripe/webhook", body, map[string]string{"Stripe-Signature": signature})
}

func outcome(t *testing.T, r reply) string {
	t.Helper()
	var out struct{ Outcome string }
	r.expect(t, http.StatusOK).decode(t, &out)
	return out.Outcome
}

// stripeSubscriptionID is the Stripe id billing keeps for the account.
func stripeSubscriptionID(t *testing.T, accountID string) string {
	t.Helper()
	db, err := pgx.Connect(context.Background(), env.billingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var id string
	if err := db.QueryRow(context.Background(), `SELECT stripe_subscription_id FROM subscriptions WHERE account_id = $1`, accountID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// Signatures and timestamps are checked; each event applies once; an older event never overwrites
// newer state; unknown types are acknowledged.
func TestBilling_StripeWebhooks(t *testing.T) {
	a := newAccount(t, "webhooks")
	a.subscribe(t, "pro")
	sub := stripeSubscriptionID(t, a.ID)
	now := time.Now()
	obj := func(status string) map[string]any {
		return map[string]any{"id": sub, "object": "subscription", "status": status, "cancel_at_period_end": false}
	}

	body, sig := stripeEvent(t, "evt_"+uuid.NewString(), "customer.subscription.updated", now, obj("past_due"), now)
	deliver(t, body, "t=1,v1=deadbeef").expectError(t, http.StatusBadRequest, "billing.webhook_signature_invalid")
	deliver(t, body, "").expectError(t, http.StatusBadRequest, "billing.webhook_signature_invalid")
	tampered := []byte(strings.Replace(string(body), "past_due", "canceled", 1))
	deliver(t, tampered, sig).expectError(t, http.StatusBadRequest, "billing.webhook_signature_invalid")
	oldBody, oldSig := stripeEvent(t, "evt_"+uuid.NewString(), "customer.subscription.updated", now, obj("canceled"), now.Add(-10*time.Minute))
	deliver(t, oldBody, oldSig).expectError(t, http.StatusBadRequest, "billing.webhook_signature_invalid")
	if s := a.subscription(t); s.Status != "active" {
		t.Fatalf("a refused delivery changed the subscription: %+v", s)
	}

	if o := outcome(t, deliver(t, body, sig)); o != "applied" {
		t.Fatalf("first delivery: %s", o)
	}
	if s := a.subscription(t); s.Status != "past_due" {
		t.Fatalf("after past_due: %+v", s)
	}
	if o := outcome(t, deliver(t, body, sig)); o != "duplicate" {
		t.Fatalf("replay: %s", o)
	}
	// Out of order: an event that happened earlier arrives later, and changes nothing.
	earlier, earlierSig := stripeEvent(t, "evt_"+uuid.NewString(), "customer.subscription.updated", now.Add(-time.Minute), obj("active"), now)
	if o := outcome(t, deliver(t, earlier, earlierSig)); o != "stale" {
		t.Fatalf("an older event: %s", o)
	}
	if s := a.subscription(t); s.Status != "past_due" {
		t.Fatalf("an older event overwrote newer state: %+v", s)
	}
	unknown, unknownSig := stripeEvent(t, "evt_"+uuid.NewString(), "charge.refunded", now, map[string]any{"id": "ch_1", "object": "charge"}, now)
	if o := outcome(t, deliver(t, unknown, unknownSig)); o != "ignored" {
		t.Fatalf("an unknown type: %s", o)
	}
}

// A lost webhook leaves our subscription behind Stripe's; reconciliation repairs it.
func TestBilling_ReconciliationRepairsALostWebhook(t *testing.T) {
	a := newAccount(t, "reconcile")
	a.subscribe(t, "pro")
	sub := stripeSubscriptionID(t, a.ID)
	now := time.Now()
	body, sig := stripeEvent(t, "evt_"+uuid.NewString(), "customer.subscription.updated", now,
		map[string]any{"id": sub, "object": "subscription", "status": "past_due"}, now)
	if o := outcome(t, deliver(t, body, sig)); o != "applied" {
		t.Fatal(o)
	}
	// The payment succeeded at Stripe (stripe-mock answers status active), but that webhook was lost.
	a.do(t, "POST", "/v1/ops/billing/reconcile", nil).expectError(t, http.StatusForbidden, "billing.admin_only")
	var out struct{ Checked, Repaired int64 }
	request(t, "POST", "/v1/ops/billing/reconcile", nil, asAdmin(t)).expect(t, http.StatusOK).decode(t, &out)
	if out.Checked < 1 || out.Repaired < 1 {
		t.Fatalf("reconcile: %+v", out)
	}
	if s := a.subscription(t); s.Status != "active" {
		t.Fatalf("after reconciliation: %+v", s)
	}
}

func (a account) invoices(t *testing.T) []invoiceView {
	t.Helper()
	var out struct{ Invoices []invoiceView }
	a.do(t, "GET", "/v1/billing/invoices", nil).expect(t, http.StatusOK).decode(t, &out)
	return out.Invoices
}

// At a period's close: an invoice from the plan's price, stored with its lines, mirrored to Stripe,
// published (audit records it) and retrievable; payment failures mail the account once per attempt.
func TestBilling_InvoiceAtPeriodCloseAndPaymentFailedMail(t *testing.T) {
	a := newAccount(t, "invoice")
	s := a.subscribe(t, "pro")
	var invs []invoiceView
	if !eventually(billingPeriod+15*time.Second, 200*time.Millisecond, func() bool {
		invs = a.invoices(t)
		return len(invs) > 0 && invs[len(invs)-1].StripeInvoiceID != ""
	}) {
		t.Fatalf("no mirrored invoice %s after the period that ended at %s: %+v", time.Now().Format(time.RFC3339), s.PeriodEnd, invs)
	}
	inv := invs[len(invs)-1]
	if !inv.PeriodStart.Equal(s.PeriodStart) || !inv.PeriodEnd.Equal(s.PeriodEnd) || inv.Status != "open" || inv.Currency != "usd" ||
		len(inv.Lines) < 1 || inv.Lines[0].AmountCents != 2900 {
		t.Fatalf("invoice: %+v for %+v", inv, s)
	}
	var sum int64
	for _, l := range inv.Lines {
		sum += l.AmountCents
	}
	if sum != inv.TotalCents {
		t.Fatalf("lines sum to %d, total %d", sum, inv.TotalCents)
	}
	var one struct{ Invoice invoiceView }
	a.do(t, "GET", "/v1/billing/invoices/"+inv.ID, nil).expect(t, http.StatusOK).decode(t, &one)
	if one.Invoice.ID != inv.ID || one.Invoice.TotalCents != inv.TotalCents {
		t.Fatalf("%+v", one.Invoice)
	}
	other := newAccount(t, "invoice-other")
	other.do(t, "GET", "/v1/billing/invoices/"+inv.ID, nil).expectError(t, http.StatusNotFound, "billing.invoice_not_found")
	if c := env.stripe.callsTo("POST", "/v1/invoices"); !containsKey(c, "acme-invoice-"+inv.ID) {
		t.Errorf("the invoice was not mirrored to Stripe with its key")
	}
	auditRecordsWithin(t, 15*time.Second, url.Values{"subject": {a.ID}, "type": {"invoice.created"}},
		func(rs []auditRecord) bool { return len(rs) >= 1 })

	// Stripe fails to charge it: attempt 1 told twice (a redelivery under a new id), then attempt 2.
	now := time.Now()
	for i, attempt := range []int{1, 1, 2} {
		body, sig := stripeEvent(t, fmt.Sprintf("evt_%s_%d", uuid.NewString(), i), "invoice.payment_failed", now.Add(time.Duration(i)*time.Second),
			map[string]any{"id": inv.StripeInvoiceID, "object": "invoice", "attempt_count": attempt}, now)
		want := map[int]string{0: "applied", 1: "stale", 2: "applied"}[i]
		if o := outcome(t, deliver(t, body, sig)); o != want {
			t.Fatalf("payment_failed %d: %s, want %s", i, o, want)
		}
	}
	mailTo(t, a.Email, "Your payment failed")
	// The verification mail, and one per failed attempt.
	eventually(10*time.Second, 100*time.Millisecond, func() bool { return countMail(t, a.Email) >= 3 })
	if n := countMail(t, a.Email); n != 3 {
		t.Fatalf("%d mails to %s, want the verification mail and one per failed attempt (2)", n, a.Email)
	}
	a.do(t, "GET", "/v1/billing/invoices/"+inv.ID, nil).expect(t, http.StatusOK).decode(t, &one)
	if one.Invoice.Status != "payment_failed" {
		t.Fatalf("%+v", one.Invoice)
	}
}

func containsKey(calls []stripeCall, key string) bool {
	for _, c := range calls {
		if c.IdempotencyKey == key {
			return true
		}
	}
	return false
}

// The free plan allows three projects: the fourth is refused with 402, also when all four are
// asked at once (rounds of concurrent creates), and an upgrade lifts the limit at once.
func TestBilling_FreePlanProjectLimit(t *testing.T) {
	a := newAccount(t, "limit")
	for i := range 3 {
		a.createProject(t, map[string]any{"name": fmt.Sprintf("Limited %d", i)})
	}
	e := a.do(t, "POST", "/v1/projects", map[string]any{"name": "One too many"}).expectError(t, http.StatusPaymentRequired, "billing.plan_limit_reached")
	if e.Error.Field != "projects" || !strings.Contains(e.Error.Message, "upgrade") {
		t.Fatalf("%+v", e)
	}
	for round := range 5 {
		b := newAccount(t, fmt.Sprintf("limit-race-%d", round))
		var wg sync.WaitGroup
		codes := make(chan int, 6)
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- b.do(t, "POST", "/v1/projects", map[string]any{"name": fmt.Sprintf("Race %d", i)}).Status
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for c := range codes {
			got[c]++
		}
		if got[http.StatusCreated] != 3 || got[http.StatusPaymentRequired] != 3 {
			t.Fatalf("round %d: %v, want 3 created and 3 refused", round, got)
		}
	}
	a.subscribe(t, "pro")
	a.createProject(t, map[string]any{"name": "Paid for"})
}

func (a account) usage(t *testing.T) map[string]int64 {
	t.Helper()
	var out struct {
		Usage map[string]int64 `json:"usage"`
	}
	a.do(t, "GET", "/v1/billing/usage", nil).expect(t, http.StatusOK).decode(t, &out)
	return out.Usage
}

// Usage counts each event once: the project.created record delivered again changes nothing.
func TestBilling_UsageCountedOnceUnderRedelivery(t *testing.T) {
	a := newAccount(t, "usage")
	p, _ := a.createProject(t, map[string]any{"name": "Metered"})
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		u := a.usage(t)
		return u["projects"] == 1 && u["members"] == 1
	}) {
		t.Fatalf("usage: %v", a.usage(t))
	}
	var created *kgo.Record
	readTopic(t, events.TopicProjects, func(c consumed) bool {
		if c.Event.Subject == p.ID && c.Event.Type == "project.created" {
			created = c.Record
			return true
		}
		return false
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.brokerAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: events.TopicProjects, Key: created.Key, Value: created.Value,
		Headers: created.Headers}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A later event of the same project (same partition, so after the redelivery) shows it was handled.
	member := newAccount(t, "usage-member")
	a.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": member.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool { return a.usage(t)["members"] == 2 }) {
		t.Fatalf("usage after a member: %v", a.usage(t))
	}
	if u := a.usage(t); u["projects"] != 1 {
		t.Fatalf("the redelivered project.created was counted again: %v", u)
	}
}

// Card data never reaches our stores, and billing's database is billing's alone: its credentials
// reach no other service's database, and no other service's reach it.
func TestBilling_PCISeparation(t *testing.T) {
	ctx := context.Background()
	swap := func(creds, target string) string {
		u, _ := url.Parse(creds)
		v, _ := url.Parse(target)
		u.Path = v.Path
		return u.String()
	}
	for _, c := range []struct{ name, url string }{
		{"billing's credentials on users' database", swap(env.billingDB, env.usersDB)},
		{"billing's credentials on projects' database", swap(env.billingDB, env.projectsDB)},
		{"users' credentials on billing's database", swap(env.usersDB, env.billingDB)},
		{"projects' credentials on billing's database", swap(env.projectsDB, env.billingDB)},
		{"audit's credentials on billing's database", swap(env.auditDB, env.billingDB)},
	} {
		conn, err := pgx.Connect(ctx, c.url)
		if err == nil {
			conn.Close(ctx)
			t.Errorf("%s: connected", c.name)
		} else if !strings.Contains(err.Error(), "permission denied for database") {
			t.Errorf("%s: refused, but not for want of the privilege: %v", c.name, err)
		}
	}
	conn, err := pgx.Connect(ctx, env.billingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var cols []string
	rows, err := conn.Query(ctx, `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name ~* '(card|pan|cvc|cvv|expir|iban|account_number)'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		_ = rows.Scan(&c)
		cols = append(cols, c)
	}
	if len(cols) > 0 {
		t.Fatalf("billing's database has columns for card data: %v", cols)
	}
}

func TestBilling_BadInput(t *testing.T) {
	a := newAccount(t, "billing-bad")
	cases := []struct {
		name, method, path string
		body               any
		extra              []string
		status             int
		code, field        string
	}{
		{"no plan", "POST", "/v1/billing/subscription", map[string]any{}, nil, 400, "request.field_required", "plan"},
		{"plan not a string", "POST", "/v1/billing/subscription", map[string]any{"plan": 5}, nil, 400, "request.invalid_type", "plan"},
		{"empty plan", "POST", "/v1/billing/subscription", map[string]any{"plan": ""}, nil, 400, "billing.plan_invalid", "plan"},
		{"overlong plan", "POST", "/v1/billing/subscription", map[string]any{"plan": strings.Repeat("p", 33)}, nil, 400, "billing.plan_invalid", "plan"},
		{"no such plan", "POST", "/v1/billing/subscription", map[string]any{"plan": "platinum"}, nil, 400, "billing.plan_invalid", "plan"},
		{"free is no subscription", "POST", "/v1/billing/subscription", map[string]any{"plan": "free"}, nil, 400, "billing.plan_invalid", "plan"},
		{"overlong Idempotency-Key", "POST", "/v1/billing/subscription", map[string]any{"plan": "pro"},
			[]string{"Idempotency-Key", strings.Repeat("k", 101)}, 400, "billing.idempotency_key_invalid", "Idempotency-Key"},
		{"change without a subscription", "PATCH", "/v1/billing/subscription", map[string]any{"plan": "pro"}, nil, 409, "billing.not_subscribed", ""},
		{"preview without a subscription", "POST", "/v1/billing/subscription/preview", map[string]any{"plan": "pro"}, nil, 409, "billing.not_subscribed", ""},
		{"cancel without a subscription", "POST", "/v1/billing/subscription/cancel", nil, nil, 409, "billing.not_subscribed", ""},
		{"resume without a subscription", "POST", "/v1/billing/subscription/resume", nil, nil, 409, "billing.not_canceled", ""},
		{"not an invoice id", "GET", "/v1/billing/invoices/nope", nil, nil, 404, "billing.invoice_not_found", ""},
		{"no such invoice", "GET", "/v1/billing/invoices/" + uuid.NewString(), nil, nil, 404, "billing.invoice_not_found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := a.do(t, tc.method, tc.path, tc.body, tc.extra...).expectError(t, tc.status, tc.code)
			if e.Error.Field != tc.field {
				t.Fatalf("field %q, want %q", e.Error.Field, tc.field)
			}
		})
	}
	if s := a.subscription(t); s.Status != "free" {
		t.Fatalf("bad input changed the subscription: %+v", s)
	}
	// The webhook: no body, or a body that is not one JSON object, is no delivery.
	request(t, "POST", "/v1/billing/stripe/webhook", `{"id":`, map[string]string{"Stripe-Signature": "t=1,v1=x"}).
		expectError(t, http.StatusBadRequest, "request.malformed_json")
	request(t, "POST", "/v1/billing/stripe/webhook", `{}`, map[string]string{"Stripe-Signature": strings.Repeat("s", 1025)}).
		expectError(t, http.StatusBadRequest, "billing.webhook_signature_invalid")
}

// A transfer moves the project's usage, its files' bytes included, from the old owner's account to
// the new owner's: billing counts it there, and files checks the new owner's plan for the next upload.
func TestBilling_UsageMovesWithOwnership(t *testing.T) {
	ada, bob := newAccount(t, "usage-from"), newAccount(t, "usage-to")
	p, _ := ada.createProject(t, map[string]any{"name": "Handed Over"})
	ada.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": bob.ID, "role": "editor"}).expect(t, http.StatusCreated)
	f := ada.uploadOK(t, p.ID, "notes.txt", "text/plain", []byte("hand-over notes"))
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		u := ada.usage(t)
		return u["projects"] == 1 && u["members"] == 2 && u["storage_bytes"] == f.SizeBytes
	}) {
		t.Fatalf("before the transfer: %v", ada.usage(t))
	}
	ada.do(t, "POST", "/v1/projects/"+p.ID+"/transfer", map[string]any{"new_owner_id": bob.ID}).expect(t, http.StatusOK)
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		u := bob.usage(t)
		return u["projects"] == 1 && u["members"] == 2 && u["storage_bytes"] == f.SizeBytes
	}) {
		t.Fatalf("the new owner's usage: %v", bob.usage(t))
	}
	if u := ada.usage(t); u["projects"] != 0 || u["members"] != 0 || u["storage_bytes"] != 0 {
		t.Fatalf("the old owner's usage: %v", u)
	}
	// Files counts the project's bytes in the new owner's account too: a resumable upload reserving
	// the rest of the free plan's 100 MiB fits for bob only if the notes count against bob alone.
	// (files learns of the transfer from the same event as billing, so it may be a moment behind).
	path := bob.createUpload(t, p.ID, "rest.bin", 100<<20-int(f.SizeBytes))
	var last reply
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		last = bob.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "1", "Upload-Metadata", tusMetadata("project_id", p.ID, "filename", "one.bin"))
		if last.Status == http.StatusCreated {
			loc, _ := url.Parse(last.Header.Get("Location"))
			bob.tus(t, "DELETE", loc.Path, nil).expect(t, http.StatusNoContent)
		}
		return last.Status != http.StatusCreated
	}) {
		t.Fatal("files still counts the project's bytes in the old owner's account")
	}
	last.expectError(t, http.StatusPaymentRequired, "billing.plan_limit_reached")
	bob.tus(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
}

// A transfer asks the new owner's plan, as a create would: a free account that already owns three
// projects cannot be given a fourth (402), and the project stays its owner's.
func TestBilling_TransferBeyondTheNewOwnersPlanIsRefused(t *testing.T) {
	giver, full := newAccount(t, "transfer-giver"), newAccount(t, "transfer-full")
	for i := range 3 {
		full.createProject(t, map[string]any{"name": fmt.Sprintf("Full %d", i)})
	}
	p, _ := giver.createProject(t, map[string]any{"name": "Given Away"})
	giver.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": full.ID, "role": "editor"}).expect(t, http.StatusCreated)
	giver.do(t, "POST", "/v1/projects/"+p.ID+"/transfer", map[string]any{"new_owner_id": full.ID}).
		expectError(t, http.StatusPaymentRequired, "billing.plan_limit_reached")
	var out struct{ Project project }
	giver.do(t, "GET", "/v1/projects/"+p.ID, nil).expect(t, http.StatusOK).decode(t, &out)
	if out.Project.OwnerID != giver.ID {
		t.Fatalf("the refused transfer changed the owner: %+v", out.Project)
	}
}
