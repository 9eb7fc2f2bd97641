// Command audit keeps the platform's audit log: it records every event delivered on acme.audit.log
// exactly once and answers queries over gRPC.
package main

import (
	"context"
	"log/slog"
	"os"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	"github.com/acme/platform/services/audit/internal/adapters"
	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/audit/internal/ports"
	"github.com/acme/platform/services/audit/migrations"
	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
	"github.com/acme/platform/services/platform/telemetry"
)

func main() {
	env := config.FromOS()
	log := telemetry.NewLogger(os.Stderr, "audit", env.String("LOG_LEVEL", "info"))
	if err := run(env, log); err != nil {
		log.Error("audit stopped", "error", err)
		os.Exit(1)
	}
}

func run(env *config.Env, log *slog.Logger) error {
	ctx, stop := server.SignalContext()
	defer stop()
	var (
		addr   = server.ListenAddr(env, "50103")
		dbURL  = env.Required("DATABASE_URL")
		pubsub = env.String("PUBSUB_NAME", "pubsub")
	)
	if err := env.Err(); err != nil {
		return err
	}
	shutdownTracing, err := telemetry.Setup(ctx, "audit")
	if err != nil {
		return err
	}
	defer shutdownTracing(context.Background())

	pool, err := postgres.Open(ctx, log, dbURL, postgres.Migrations{FS: migrations.FS, Table: "goose_audit"})
	if err != nil {
		return err
	}
	defer pool.Close()
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	svc := app.Service{Store: adapters.PostgresRecords{Pool: pool}}

	srv, health := server.NewGRPC(log)
	auditv1.RegisterAuditServiceServer(srv, ports.GRPC{App: svc})
	subs := subscriber.New(log, func(ctx context.Context) error { return pool.Ping(ctx) })
	subs.Handle(pubsub, events.TopicAudit, ports.Events{App: svc, Codec: codec, Log: log}.Handle)
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
