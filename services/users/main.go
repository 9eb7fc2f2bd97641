// Command users is the accounts service: registration, password login, sessions and access tokens.
// It serves acme.users.v1 over gRPC beside its Dapr sidecar.
package main

import (
	"context"
	"log/slog"
	"os"

	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/telemetry"
	"github.com/acme/platform/services/users/internal/adapters"
	"github.com/acme/platform/services/users/internal/app"
	"github.com/acme/platform/services/users/internal/ports"
	"github.com/acme/platform/services/users/migrations"
)

func main() {
	env := config.FromOS()
	log := telemetry.NewLogger(os.Stderr, "users", env.String("LOG_LEVEL", "info"))
	if err := run(env, log); err != nil {
		log.Error("users stopped", "error", err)
		os.Exit(1)
	}
}

func run(env *config.Env, log *slog.Logger) error {
	ctx, stop := server.SignalContext()
	defer stop()
	var (
		addr        = server.ListenAddr(env, "50101")
		dbURL       = env.Required("DATABASE_URL")
		pubsub      = env.String("PUBSUB_NAME", "pubsub")
		stateStore  = env.String("STATE_STORE_NAME", "statestore")
		secretStore = env.String("SECRET_STORE_NAME", "secretstore")
		sidecar     = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	shutdownTracing, err := telemetry.Setup(ctx, "users")
	if err != nil {
		return err
	}
	defer shutdownTracing(context.Background())

	pool, err := postgres.Open(ctx, log, dbURL, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_users"})
	if err != nil {
		return err
	}
	defer pool.Close()
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
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
		adapters.DefaultArgon2id, tokens)
	if err != nil {
		return err
	}

	relay := &outbox.Relay{Pool: pool, Publisher: outbox.DaprPublisher{Client: dc, PubSub: pubsub}, Log: log}
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = relay.Run(ctx) }()
	// Runs before the deferred pool.Close: the relay finishes its batch on an open pool.
	defer func() { stop(); <-relayDone }()

	srv, health := server.NewGRPC(log)
	usersv1.RegisterUsersServiceServer(srv, ports.GRPC{App: svc})
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
