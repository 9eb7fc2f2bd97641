// Command audit keeps the platform's audit log: it records every event delivered on acme.audit.log
// exactly once and answers queries over gRPC.
package main

import (
	"context"
	"time"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	"github.com/acme/platform/services/audit/internal/adapters"
	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/audit/internal/ports"
	"github.com/acme/platform/services/audit/migrations"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
)

func main() { server.Main("audit", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr   = server.ListenAddr(env, "50103")
		dbURL  = env.Required("DATABASE_URL")
		pubsub = env.String("PUBSUB_NAME", "pubsub")
		// Batches of the chain go to object storage through this Dapr binding, every interval.
		archiveBinding  = env.String("ARCHIVE_BINDING", "objectstore")
		archiveInterval = env.Duration("ARCHIVE_INTERVAL", time.Hour)
		archiveMax      = env.Int("ARCHIVE_MAX_RECORDS", 10000)
		sidecar         = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, log, dbURL, deadletter.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_audit"})
	if err != nil {
		return err
	}
	a.OnStop(pool.Close)
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	store := adapters.PostgresRecords{Pool: pool}
	svc := app.Service{Store: store}
	if n, err := svc.Backfill(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("chained records written before the hash chain", "records", n)
	}
	if archiveInterval > 0 {
		dc, err := sidecar.Client(ctx)
		if err != nil {
			return err
		}
		a.OnStop(dc.Close)
		archiver := app.Archiver{Store: store, Objects: adapters.DaprObjects{Client: dc, Binding: archiveBinding},
			MaxRecords: archiveMax, Log: log, Now: time.Now}
		a.Go("audit archiver", func(ctx context.Context) error { archiver.Run(ctx, archiveInterval); return nil })
	}

	srv, health := server.NewGRPC(log)
	auditv1.RegisterAuditServiceServer(srv, ports.GRPC{App: svc})
	subs := subscriber.New(log, func(ctx context.Context) error { return pool.Ping(ctx) })
	dead, err := deadletter.New(pool, "audit")
	if err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	handler := subscriber.Events(codec, ports.Events{App: svc, Log: log}.Handle)
	if err := subs.Consume(pubsub, "audit", handler, dead.Handle); err != nil {
		return err
	}
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
