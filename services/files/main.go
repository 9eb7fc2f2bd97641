// Command files keeps projects' files. It serves acme.files.v1 over gRPC beside its Dapr sidecar:
// uploads stream into S3 under a quarantine prefix while ClamAV scans them (INSTREAM over its
// socket), clean files are moved out and get a thumbnail if they are images, downloads are
// short-lived signed links. Metadata lives in its PostgreSQL database; it asks projects (roles) and
// billing (the storage limit) through Dapr, and removes files on user.erased and project.deleted.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	billingv1 "github.com/acme/platform/contracts/gen/go/acme/billing/v1"
	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	"github.com/acme/platform/services/files/internal/adapters"
	"github.com/acme/platform/services/files/internal/app"
	"github.com/acme/platform/services/files/internal/ports"
	"github.com/acme/platform/services/files/migrations"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/entitlements"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
)

func main() { server.Main("files", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr        = server.ListenAddr(env, "50107")
		dbURL       = env.Required("DATABASE_URL")
		pubsub      = env.String("PUBSUB_NAME", "pubsub")
		secretStore = env.String("SECRET_STORE_NAME", "secretstore")
		s3Endpoint  = env.String("S3_ENDPOINT", "")
		s3Region    = env.String("S3_REGION", "us-east-1")
		bucket      = env.String("FILES_BUCKET", "acme-files")
		clamd       = env.String("CLAMD_ADDR", "tcp://127.0.0.1:3310")
		maxUpload   = env.Int("MAX_UPLOAD_BYTES", 100<<20)
		linkTTL     = env.Duration("DOWNLOAD_LINK_TTL", 5*time.Minute)
		abandonAge  = env.Duration("ABANDONED_UPLOAD_AGE", time.Hour)
		// Resumable uploads: the largest, how long one may stay unfinished, where parts wait on disk
		// before they go to S3, and how often complete-but-unscanned uploads are finished.
		maxResumable = env.Int("MAX_RESUMABLE_UPLOAD_BYTES", 5<<30)
		resumableAge = env.Duration("ABANDONED_RESUMABLE_AGE", 24*time.Hour)
		partsDir     = env.String("UPLOAD_PARTS_DIR", "")
		workEvery    = env.Duration("UPLOAD_WORKER_INTERVAL", time.Minute)
		sidecar      = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	if partsDir != "" {
		if err := os.MkdirAll(partsDir, 0o700); err != nil {
			return err
		}
	}
	clamav, err := adapters.NewClamAV(clamd)
	if err != nil {
		return err
	}
	scans, err := otel.Meter("acme/files").Int64Counter("acme_file_scans", metric.WithDescription("Virus scans of uploads, by verdict."))
	if err != nil {
		return err
	}
	scanner := adapters.Metered{Scanner: clamav, Scans: scans}
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	a.OnStop(dc.Close)
	creds, err := dc.GetSecret(ctx, secretStore, "files-s3", nil)
	if err != nil {
		return fmt.Errorf("read secret files-s3: %w", err)
	}
	pool, err := postgres.Open(ctx, log, dbURL, outbox.Migrations(), deadletter.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_files"})
	if err != nil {
		return err
	}
	a.OnStop(pool.Close)
	projectsConn, err := sidecar.DialApp("projects")
	if err != nil {
		return err
	}
	a.Closes(projectsConn)
	billingConn, err := sidecar.DialApp("billing")
	if err != nil {
		return err
	}
	a.Closes(billingConn)
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	objects := adapters.NewS3(s3Endpoint, s3Region, bucket, creds["access-key-id"], creds["secret-access-key"])
	svc := &app.Service{
		Store:       adapters.Postgres{Pool: pool, Outbox: outbox.NewWriter(codec)},
		Objects:     objects,
		Uploads:     adapters.NewUploads(objects, partsDir),
		Scanner:     scanner,
		Projects:    adapters.Projects{Client: projectsv1.NewProjectsServiceClient(projectsConn)},
		Billing:     entitlements.Client{Client: billingv1.NewBillingServiceClient(billingConn)},
		Thumbnailer: adapters.Images{Size: 256, MaxPixels: 50_000_000},
		Log:         log, Now: time.Now, MaxUpload: int64(maxUpload), MaxResumable: int64(maxResumable), LinkTTL: linkTTL,
	}
	a.Go("outbox relay", (&outbox.Relay{Pool: pool, Publisher: outbox.DaprPublisher{Client: dc, PubSub: pubsub}, Log: log}).Run)
	a.Go("uploads", func(ctx context.Context) error { return svc.RunUploadWorker(ctx, workEvery, abandonAge, resumableAge) })

	srv, health := server.NewGRPC(log)
	filesv1.RegisterFilesServiceServer(srv, ports.GRPC{App: svc})
	subs := subscriber.New(log, func(ctx context.Context) error { return pool.Ping(ctx) })
	dead, err := deadletter.New(pool, "files")
	if err != nil {
		return err
	}
	if err := subs.Consume(pubsub, "files", subscriber.Events(codec, ports.Events{App: svc, Log: log}.Handle), dead.Handle); err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
