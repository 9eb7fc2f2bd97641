// Command projects owns projects, their members and settings. It serves acme.projects.v1 and
// acme.privacy.v1 over gRPC beside its Dapr sidecar, asks users through Dapr whether an account
// exists, and consumes user.erased.
package main

import (
	"context"
	"time"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"

	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/entitlements"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
	"github.com/acme/platform/services/projects/internal/adapters"
	"github.com/acme/platform/services/projects/internal/app"
	"github.com/acme/platform/services/projects/internal/ports"
	"github.com/acme/platform/services/projects/migrations"
)

func main() { server.Main("projects", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr    = server.ListenAddr(env, "50102")
		dbURL   = env.Required("DATABASE_URL")
		pubsub  = env.String("PUBSUB_NAME", "pubsub")
		sidecar = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, log, dbURL, outbox.Migrations(), deadletter.Migrations(),
		postgres.Migrations{FS: migrations.FS, Table: "goose_projects"})
	if err != nil {
		return err
	}
	a.OnStop(pool.Close)
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	a.OnStop(dc.Close)
	usersConn, err := sidecar.DialApp("users")
	if err != nil {
		return err
	}
	a.Closes(usersConn)
	billingConn, err := sidecar.DialApp("billing")
	if err != nil {
		return err
	}
	a.Closes(billingConn)
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	settings, err := adapters.NewSettingsSchema()
	if err != nil {
		return err
	}
	svc := &app.Service{
		Store:    adapters.Postgres{Pool: pool, Outbox: outbox.NewWriter(codec)},
		Users:    adapters.UsersClient{Client: usersv1.NewUsersServiceClient(usersConn)},
		Settings: settings,
		Billing:  entitlements.Client{Client: billingv1.NewBillingServiceClient(billingConn)},
		Now:      time.Now,
	}

	a.Go("outbox relay", (&outbox.Relay{Pool: pool, Publisher: outbox.DaprPublisher{Client: dc, PubSub: pubsub}, Log: log}).Run)

	srv, health := server.NewGRPC(log)
	projectsv1.RegisterProjectsServiceServer(srv, ports.GRPC{App: svc})
	privacyv1.RegisterPersonalDataServiceServer(srv, ports.Privacy{App: svc})
	subs := subscriber.New(log, func(ctx context.Context) error { return pool.Ping(ctx) })
	dead, err := deadletter.New(pool, "projects")
	if err != nil {
		return err
	}
	if err := subs.Consume(pubsub, "projects", subscriber.Events(codec, ports.UsersEvents{App: svc, Log: log}.Handle), dead.Handle); err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
