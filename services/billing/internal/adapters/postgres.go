// Package adapters implements the billing app's ports: PostgreSQL (with the outbox), Stripe through
// stripe-go, and users through Dapr.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/acme/platform/services/platform/postgres"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/billing/internal/app"
	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/outbox"
)

// Postgres is billing's database.
type Postgres struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Writer
}

// Plans lists the plans in their order.
func (p Postgres) Plans(ctx context.Context) ([]billing.Plan, error) {
	rows, err := p.Pool.Query(ctx, `SELECT name, price_cents, currency, stripe_price_id, limits, overage_cents FROM plans ORDER BY position`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Plan, error) {
		var pl billing.Plan
		err := r.Scan(&pl.Name, &pl.PriceCents, &pl.Currency, &pl.StripePriceID, &pl.Limits, &pl.OverageCents)
		return pl, err
	})
}

const subscriptionColumns = `account_id, plan, status, cancel_at_period_end, period_start, period_end, stripe_customer_id,
	stripe_subscription_id, stripe_event_at, proration_cents, billing_email, region, version`

func scanSubscription(row pgx.Row) (billing.Subscription, bool, error) {
	var s billing.Subscription
	err := row.Scan(&s.AccountID, &s.Plan, &s.Status, &s.CancelAtPeriodEnd, &s.PeriodStart, &s.PeriodEnd, &s.StripeCustomerID,
		&s.StripeSubscriptionID, &s.StripeEventAt, &s.ProrationCents, &s.BillingEmail, &s.Region, &s.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, false, nil
	}
	return s, err == nil, err
}

// Subscription reads an account's subscription.
func (p Postgres) Subscription(ctx context.Context, accountID string) (billing.Subscription, bool, error) {
	return scanSubscription(p.Pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE account_id = $1`, accountID))
}

// LiveSubscriptions lists the subscriptions Stripe holds that are not canceled.
func (p Postgres) LiveSubscriptions(ctx context.Context) ([]billing.Subscription, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE stripe_subscription_id <> '' AND status <> 'canceled' ORDER BY account_id`)
	if err != nil {
		return nil, err
	}
	return collectSubscriptions(rows)
}

func collectSubscriptions(rows pgx.Rows) ([]billing.Subscription, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Subscription, error) {
		s, _, err := scanSubscription(r)
		return s, err
	})
}

func usage(ctx context.Context, q postgres.Querier, accountID string) (map[string]int64, error) {
	rows, err := q.Query(ctx, `SELECT meter, value FROM usage WHERE account_id = $1`, accountID)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{billing.MeterProjects: 0, billing.MeterMembers: 0, billing.MeterStorageBytes: 0}
	var meter string
	var value int64
	_, err = pgx.ForEachRow(rows, []any{&meter, &value}, func() error { out[meter] = value; return nil })
	return out, err
}

// Usage is an account's current counts by meter.
func (p Postgres) Usage(ctx context.Context, accountID string) (map[string]int64, error) {
	return usage(ctx, p.Pool, accountID)
}

const invoiceColumns = `id::text, account_id, period_start, period_end, total_cents, currency, status, stripe_invoice_id,
	payment_attempts, created_at`

func scanInvoice(row pgx.Row) (billing.Invoice, error) {
	var i billing.Invoice
	err := row.Scan(&i.ID, &i.AccountID, &i.PeriodStart, &i.PeriodEnd, &i.TotalCents, &i.Currency, &i.Status, &i.StripeInvoiceID,
		&i.PaymentAttempts, &i.CreatedAt)
	return i, err
}

func (p Postgres) invoices(ctx context.Context, where string, args ...any) ([]billing.Invoice, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Invoice, error) { return scanInvoice(r) })
	if err != nil {
		return nil, err
	}
	for i := range invs {
		if invs[i].Lines, err = lines(ctx, p.Pool, invs[i].ID); err != nil {
			return nil, err
		}
	}
	return invs, nil
}

func lines(ctx context.Context, q postgres.Querier, invoiceID string) ([]billing.Line, error) {
	rows, err := q.Query(ctx, `SELECT description, meter, quantity, unit_cents, amount_cents FROM invoice_lines
		WHERE invoice_id = $1 ORDER BY n`, invoiceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Line, error) {
		var l billing.Line
		err := r.Scan(&l.Description, &l.Meter, &l.Quantity, &l.UnitCents, &l.AmountCents)
		return l, err
	})
}

// Invoices lists an account's invoices, newest first.
func (p Postgres) Invoices(ctx context.Context, accountID string) ([]billing.Invoice, error) {
	return p.invoices(ctx, `account_id = $1 ORDER BY period_start DESC LIMIT 100`, accountID)
}

// Invoice reads one of an account's invoices.
func (p Postgres) Invoice(ctx context.Context, accountID, id string) (billing.Invoice, error) {
	invs, err := p.invoices(ctx, `account_id = $1 AND id = $2`, accountID, id)
	if err != nil {
		return billing.Invoice{}, err
	}
	if len(invs) == 0 {
		return billing.Invoice{}, billing.ErrNoInvoice()
	}
	return invs[0], nil
}

// Unmirrored lists invoices Stripe does not have yet, oldest first.
func (p Postgres) Unmirrored(ctx context.Context, limit int) ([]billing.Invoice, error) {
	return p.invoices(ctx, `stripe_invoice_id = '' ORDER BY created_at LIMIT $1`, limit)
}

// SetMirrored records the invoice's Stripe id.
func (p Postgres) SetMirrored(ctx context.Context, invoiceID, stripeInvoiceID string) error {
	_, err := p.Pool.Exec(ctx, `UPDATE invoices SET stripe_invoice_id = $2, usage_reported = true WHERE id = $1`, invoiceID, stripeInvoiceID)
	return err
}

// InTx runs fn in one transaction.
func (p Postgres) InTx(ctx context.Context, fn func(app.Tx) error) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error { return fn(pgTx{tx: tx, outbox: p.Outbox}) })
}

type pgTx struct {
	tx     pgx.Tx
	outbox *outbox.Writer
}

func (t pgTx) LockSubscription(ctx context.Context, accountID string) (billing.Subscription, bool, error) {
	// The account's lock, held whether or not its row exists yet: two first subscribes serialize.
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('billing-account:' || $1, 0))`, accountID); err != nil {
		return billing.Subscription{}, false, err
	}
	return scanSubscription(t.tx.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE account_id = $1 FOR UPDATE`, accountID))
}

func (t pgTx) LockSubscriptionByStripeID(ctx context.Context, stripeID string) (billing.Subscription, bool, error) {
	if stripeID == "" {
		return billing.Subscription{}, false, nil
	}
	return scanSubscription(t.tx.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE stripe_subscription_id = $1 FOR UPDATE`, stripeID))
}

func (t pgTx) SaveSubscription(ctx context.Context, s billing.Subscription) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
		ON CONFLICT (account_id) DO UPDATE SET plan = $2, status = $3, cancel_at_period_end = $4, period_start = $5,
			period_end = $6, stripe_customer_id = $7, stripe_subscription_id = $8, stripe_event_at = $9, proration_cents = $10,
			billing_email = $11, region = $12, version = $13, updated_at = now()`,
		s.AccountID, s.Plan, s.Status, s.CancelAtPeriodEnd, s.PeriodStart, s.PeriodEnd, s.StripeCustomerID,
		s.StripeSubscriptionID, s.StripeEventAt, s.ProrationCents, s.BillingEmail, s.Region, s.Version)
	return err
}

func (t pgTx) Operation(ctx context.Context, accountID, operationID string) (json.RawMessage, bool, error) {
	var raw json.RawMessage
	err := t.tx.QueryRow(ctx, `SELECT response FROM operations WHERE account_id = $1 AND operation_id = $2`, accountID, operationID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	return raw, err == nil, err
}

func (t pgTx) SaveOperation(ctx context.Context, accountID, operationID, kind string, response any) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO operations (account_id, operation_id, kind, response) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, accountID, operationID, kind, response)
	return tag.RowsAffected() == 1, err
}

func (t pgTx) FirstStripeEvent(ctx context.Context, id, typ string, created time.Time, outcome string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO stripe_events (id, type, created, outcome) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO NOTHING`, id, typ, created, outcome)
	return tag.RowsAffected() == 1, err
}

func (t pgTx) SetStripeEventOutcome(ctx context.Context, id, outcome string) error {
	_, err := t.tx.Exec(ctx, `UPDATE stripe_events SET outcome = $2 WHERE id = $1`, id, outcome)
	return err
}

func (t pgTx) LockInvoiceByStripeID(ctx context.Context, stripeID string) (billing.Invoice, bool, error) {
	if stripeID == "" {
		return billing.Invoice{}, false, nil
	}
	inv, err := scanInvoice(t.tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE stripe_invoice_id = $1 FOR UPDATE`, stripeID))
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, false, nil
	}
	if err != nil {
		return inv, false, err
	}
	inv.Lines, err = lines(ctx, t.tx, inv.ID)
	return inv, err == nil, err
}

// SaveInvoice inserts a new invoice with its lines, or updates an existing one's status.
func (t pgTx) SaveInvoice(ctx context.Context, inv billing.Invoice) error {
	tag, err := t.tx.Exec(ctx, `INSERT INTO invoices (id, account_id, period_start, period_end, total_cents, currency, status,
			stripe_invoice_id, payment_attempts, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET status = $7, payment_attempts = $9`,
		inv.ID, inv.AccountID, inv.PeriodStart, inv.PeriodEnd, inv.TotalCents, inv.Currency, inv.Status, inv.StripeInvoiceID,
		inv.PaymentAttempts, inv.CreatedAt)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	var n int
	if err := t.tx.QueryRow(ctx, `SELECT count(*) FROM invoice_lines WHERE invoice_id = $1`, inv.ID).Scan(&n); err != nil || n > 0 {
		return err
	}
	for i, l := range inv.Lines {
		if _, err := t.tx.Exec(ctx, `INSERT INTO invoice_lines (invoice_id, n, description, meter, quantity, unit_cents, amount_cents)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, inv.ID, i, l.Description, l.Meter, l.Quantity, l.UnitCents, l.AmountCents); err != nil {
			return err
		}
	}
	return nil
}

func (t pgTx) FirstUsageEvent(ctx context.Context, eventID string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO usage_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING`, eventID)
	return tag.RowsAffected() == 1, err
}

func (t pgTx) AddUsage(ctx context.Context, accountID, meter string, delta int64) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO usage (account_id, meter, value) VALUES ($1, $2, GREATEST($3, 0))
		ON CONFLICT (account_id, meter) DO UPDATE SET value = GREATEST(usage.value + $3, 0)`, accountID, meter, delta)
	return err
}

func (t pgTx) ProjectAccount(ctx context.Context, projectID string) (billing.ProjectUsage, bool, error) {
	var u billing.ProjectUsage
	err := t.tx.QueryRow(ctx, `SELECT account_id, members, storage_bytes FROM project_accounts WHERE project_id = $1 FOR UPDATE`,
		projectID).Scan(&u.AccountID, &u.Members, &u.StorageBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, false, nil
	}
	return u, err == nil, err
}

func (t pgTx) PutProjectAccount(ctx context.Context, projectID string, u billing.ProjectUsage) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO project_accounts (project_id, account_id, members, storage_bytes) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id) DO UPDATE SET account_id = $2, members = $3, storage_bytes = $4`,
		projectID, u.AccountID, u.Members, u.StorageBytes)
	return err
}

func (t pgTx) DeleteProjectAccount(ctx context.Context, projectID string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM project_accounts WHERE project_id = $1`, projectID)
	return err
}

func (t pgTx) DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]billing.Subscription, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE status IN ('active', 'past_due', 'incomplete') AND period_end <= $1
		ORDER BY period_end LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, err
	}
	return collectSubscriptions(rows)
}

func (t pgTx) Usage(ctx context.Context, accountID string) (map[string]int64, error) {
	return usage(ctx, t.tx, accountID)
}

func (t pgTx) Publish(ctx context.Context, evs ...outbox.Event) error {
	return t.outbox.Add(ctx, t.tx, evs...)
}
