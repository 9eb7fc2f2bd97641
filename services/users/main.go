// Command users is the accounts service: registration, verification, password login, sessions and
// access tokens, roles, and personal data. It serves acme.users.v1 and acme.privacy.v1 over gRPC
// beside its Dapr sidecar.
package main

import (
	"context"
	"time"

	privacyv1 "github.com/acme/platform/contracts/gen/go/acme/privacy/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/users/internal/adapters"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/internal/domain/user"
	"github.com/acme/platform/services/users/internal/ports"
	"github.com/acme/platform/services/users/migrations"
)

func main() { server.Main("users", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr        = server.ListenAddr(env, "50101")
		dbURL       = env.Required("DATABASE_URL")
		pubsub      = env.String("PUBSUB_NAME", "pubsub")
		stateStore  = env.String("STATE_STORE_NAME", "statestore")
		secretStore = env.String("SECRET_STORE_NAME", "secretstore")
		sidecar     = daprkit.FromEnv(env)
		// Failed sign-ins allowed per window, per account and per client address.
		accountFailures = env.Int("LOGIN_FAILURES_PER_ACCOUNT", 5)
		addressFailures = env.Int("LOGIN_FAILURES_PER_ADDRESS", 50)
		// Password reset mails one account may be sent per hour; more requests answer the same and mail nothing.
		resetsPerHour = env.Int("RESET_MAILS_PER_HOUR", 3)
		failureWindow = env.Duration("LOGIN_FAILURE_WINDOW", 15*time.Minute)
		// Emails that get the admin role when they register: how a new platform gets its first admin.
		bootstrapAdmins = env.List("BOOTSTRAP_ADMIN_EMAILS", nil)
	)
	if err := env.Err(); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, log, dbURL, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_users"})
	if err != nil {
		return err
	}
	a.OnStop(pool.Close)
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	a.OnStop(dc.Close)
	tokens, err := adapters.LoadJWTTokens(ctx, dc, secretStore)
	if err != nil {
		return err
	}
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	svc, err := app.New(
		adapters.PostgresUsers{Pool: pool, Outbox: outbox.NewWriter(codec)},
		adapters.DaprSessions{Client: dc, Store: stateStore},
		adapters.DaprAttempts{Client: dc, Store: stateStore, Limits: map[string]adapters.AttemptLimit{
			"acct": {Max: accountFailures, Window: failureWindow}, "ip": {Max: addressFailures, Window: failureWindow},
			"reset": {Max: resetsPerHour, Window: time.Hour}}},
		adapters.DaprResetTokens{Client: dc, Store: stateStore},
		adapters.DefaultArgon2id, tokens, adapters.PostgresRevocations{Pool: pool})
	if err != nil {
		return err
	}
	svc.BootstrapAdmins = map[string]bool{}
	for _, e := range bootstrapAdmins {
		if email, err := user.NormalizeEmail(e); err == nil {
			svc.BootstrapAdmins[email] = true
		}
	}

	a.Go("purge revocations", func(ctx context.Context) error { return svc.PurgeRevocations(ctx, 10*time.Minute) })
	a.Go("outbox relay", (&outbox.Relay{Pool: pool, Publisher: outbox.DaprPublisher{Client: dc, PubSub: pubsub}, Log: log}).Run)

	srv, health := server.NewGRPC(log)
	usersv1.RegisterUsersServiceServer(srv, ports.GRPC{App: svc, Keys: tokens.PublicKeys})
	privacyv1.RegisterPersonalDataServiceServer(srv, ports.Privacy{App: svc})
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
