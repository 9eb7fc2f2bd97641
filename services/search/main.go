// Command search keeps a full-text index of users, projects and files, fed by their events, and answers
// permission-aware searches (acme.search.v1). The index is embedded (bleve) unless
// SEARCH_BACKEND=elasticsearch names a server.
package main

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
	"github.com/acme/platform/services/search/internal/adapters"
	"github.com/acme/platform/services/search/internal/adapters/bleveindex"
	"github.com/acme/platform/services/search/internal/adapters/esindex"
	"github.com/acme/platform/services/search/internal/app"
	"github.com/acme/platform/services/search/internal/index"
	"github.com/acme/platform/services/search/internal/ports"
)

func main() { server.Main("search", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr       = server.ListenAddr(env, "50105")
		pubsub     = env.String("PUBSUB_NAME", "pubsub")
		stateStore = env.String("STATE_STORE_NAME", "statestore")
		backend    = env.String("SEARCH_BACKEND", "bleve")
		indexDir   = env.String("SEARCH_INDEX_DIR", ".data/search-index")
		esURL      = env.String("ELASTICSEARCH_URL", "")
		esAlias    = env.String("ELASTICSEARCH_ALIAS", "acme-search")
		sidecar    = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	var idx index.Index
	var err error
	switch backend {
	case "bleve":
		idx, err = bleveindex.Open(indexDir)
	case "elasticsearch":
		idx, err = esindex.Open(ctx, esURL, esAlias)
	default:
		err = fmt.Errorf("SEARCH_BACKEND must be bleve or elasticsearch, not %q", backend)
	}
	if err != nil {
		return err
	}
	a.Closes(idx)
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
	projectsConn, err := sidecar.DialApp("projects")
	if err != nil {
		return err
	}
	a.Closes(projectsConn)
	filesConn, err := sidecar.DialApp("files")
	if err != nil {
		return err
	}
	a.Closes(filesConn)
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	freshness, err := otel.Meter("acme/search").Float64Histogram("acme_search_freshness_seconds",
		metric.WithDescription("From an event's occurred_at to its change being searchable."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	if err != nil {
		return err
	}
	svc := &app.Service{Index: idx, Freshness: freshness, Now: time.Now,
		Sources: adapters.Sources{UsersAPI: usersv1.NewUsersServiceClient(usersConn), ProjectsAPI: projectsv1.NewProjectsServiceClient(projectsConn),
			FilesAPI: filesv1.NewFilesServiceClient(filesConn), PageSize: 200}}

	if o, ok := idx.(interface{ Outdated() bool }); ok && o.Outdated() {
		log.Warn("the search index was made with an older mapping; rebuilding it from the sources")
		a.Go("rebuild-outdated-index", func(ctx context.Context) error { return svc.RebuildWhenReady(ctx, 10*time.Second, log) })
	}

	srv, health := server.NewGRPC(log)
	searchv1.RegisterSearchServiceServer(srv, ports.GRPC{App: svc, Log: log})
	subs := subscriber.New(log, func(ctx context.Context) error { _, err := idx.Count(ctx); return err })
	dead, err := deadletter.NewState(dc, stateStore, "search")
	if err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	handler := subscriber.Events(codec, func(ctx context.Context, _ string, e events.Envelope) error { return svc.Handle(ctx, e) })
	if err := subs.Consume(pubsub, "search", handler, dead.Handle); err != nil {
		return err
	}
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
