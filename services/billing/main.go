// Command billing owns plans, subscriptions (mirrored in Stripe), usage, entitlements and invoices.
// It serves acme.billing.v1 over gRPC beside its Dapr sidecar, keeps its data in its own PostgreSQL
// database with its own role (the URL, with the password, from the Dapr secret store), counts usage
// from acme.projects.events, publishes acme.billing.events through its outbox, and runs two workers:
// invoicing at each period's close, and reconciliation with Stripe.
package main

import (
	"context"
	"fmt"
	"time"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/billing/internal/adapters"
	"github.com/acme/platform/services/billing/internal/app"
	"github.com/acme/platform/services/billing/internal/ports"
	"github.com/acme/platform/services/billing/migrations"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
)

func main() { server.Main("billing", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr        = server.ListenAddr(env, "50106")
		pubsub      = env.String("PUBSUB_NAME", "pubsub")
		secretStore = env.String("SECRET_STORE_NAME", "secretstore")
		// Stripe's API, or stripe-mock locally.
		stripeURL      = env.String("STRIPE_API_BASE", "https://api.stripe.com")
		period         = env.Duration("BILLING_PERIOD", 30*24*time.Hour)
		invoiceEvery   = env.Duration("INVOICE_INTERVAL", time.Minute)
		reconcileEvery = env.Duration("RECONCILE_INTERVAL", time.Hour)
		sidecar        = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	a.OnStop(dc.Close)
	db, err := dc.GetSecret(ctx, secretStore, "billing-database", nil)
	if err != nil {
		return fmt.Errorf("read secret billing-database: %w", err)
	}
	stripeSecret, err := dc.GetSecret(ctx, secretStore, "stripe", nil)
	if err != nil {
		return fmt.Errorf("read secret stripe: %w", err)
	}
	pool, err := postgres.Open(ctx, log, db["url"], outbox.Migrations(), deadletter.Migrations(),
		postgres.Migrations{FS: migrations.FS, Table: "goose_billing"})
	if err != nil {
		return err
	}
	a.OnStop(pool.Close)
	usersConn, err := sidecar.DialApp("users")
	if err != nil {
		return err
	}
	a.Closes(usersConn)
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	svc := &app.Service{
		Store:  adapters.Postgres{Pool: pool, Outbox: outbox.NewWriter(codec)},
		Stripe: adapters.NewStripe(stripeURL, stripeSecret["api-key"], stripeSecret["webhook-secret"], log),
		Users:  adapters.Users{Client: usersv1.NewUsersServiceClient(usersConn)},
		Log:    log, Now: time.Now, Period: period,
	}

	a.Go("outbox relay", (&outbox.Relay{Pool: pool, Publisher: outbox.DaprPublisher{Client: dc, PubSub: pubsub}, Log: log}).Run)
	a.Go("invoicing", func(ctx context.Context) error { return svc.RunInvoicing(ctx, invoiceEvery) })
	a.Go("reconciliation", func(ctx context.Context) error { return svc.RunReconciliation(ctx, reconcileEvery) })

	srv, health := server.NewGRPC(log)
	billingv1.RegisterBillingServiceServer(srv, ports.GRPC{App: svc})
	subs := subscriber.New(log, func(ctx context.Context) error { return pool.Ping(ctx) })
	dead, err := deadletter.New(pool, "billing")
	if err != nil {
		return err
	}
	if err := subs.Consume(pubsub, "billing", subscriber.Events(codec, ports.ProjectEvents{App: svc, Log: log}.Handle), dead.Handle); err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
