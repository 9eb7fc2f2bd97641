// Command notifications turns events into emails through the Dapr email binding (verification on
// user.registered, password reset, invitations on project.member_added, billing mail on invoice and
// subscription events), and project events into signed customer webhooks and Slack messages,
// retried through a queue in the Dapr state store.
package main

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/notifications/internal/adapters"
	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/notifications/internal/ports"
	"github.com/acme/platform/services/notifications/templates"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
)

func main() { server.Main("notifications", run) }

func run(ctx context.Context, a *server.App) error {
	env, log := a.Env, a.Log
	var (
		addr       = server.ListenAddr(env, "50104")
		pubsub     = env.String("PUBSUB_NAME", "pubsub")
		stateStore = env.String("STATE_STORE_NAME", "statestore")
		binding    = env.String("EMAIL_BINDING", "email")
		// Where links in mail point: required, https outside loopback (app.CheckBaseURL).
		baseURL = env.Required("APP_BASE_URL")
		// Customer webhooks: targets in these prefixes are allowed although internal (tests, on-prem).
		allowCIDRs   = env.List("WEBHOOK_ALLOW_CIDRS", nil)
		retryBase    = env.Duration("WEBHOOK_RETRY_BASE", 10*time.Second)
		retryMax     = env.Duration("WEBHOOK_RETRY_MAX", time.Hour)
		giveUpAfter  = env.Duration("WEBHOOK_GIVE_UP_AFTER", 24*time.Hour)
		disableAfter = env.Int("WEBHOOK_DISABLE_AFTER", 20)
		sendTimeout  = env.Duration("WEBHOOK_TIMEOUT", 10*time.Second)
		slackBase    = env.String("SLACK_WEBHOOK_BASE", "")
		sidecar      = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	if err := app.CheckBaseURL(baseURL); err != nil {
		return err
	}
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
	allow, err := adapters.ParseAllowList(allowCIDRs)
	if err != nil {
		return err
	}
	hooks := &app.Webhooks{
		Hooks: adapters.NewStateWebhooks(dc, stateStore), Deliveries: adapters.NewStateDeliveries(dc, stateStore),
		Sender: adapters.NewHTTPSender(allow, sendTimeout), Projects: adapters.ProjectsDirectory{Client: projectsv1.NewProjectsServiceClient(projectsConn)},
		Now: time.Now, RetryBase: retryBase, RetryMax: retryMax, GiveUpAfter: giveUpAfter, DisableAfter: disableAfter, SlackBase: slackBase,
	}
	meter := otel.Meter("acme/notifications")
	if hooks.Attempts, err = meter.Int64Counter("acme_webhook_attempts", metric.WithDescription("Webhook and Slack delivery attempts, by kind and outcome.")); err != nil {
		return err
	}
	if hooks.Latency, err = meter.Float64Histogram("acme_webhook_attempt_seconds", metric.WithUnit("s"),
		metric.WithDescription("How long a delivery attempt took, until the receiver answered or failed."),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return err
	}
	replica := uuid.NewString()
	hooks.Replica, hooks.ClaimFor = replica, sendTimeout+20*time.Second
	queue := adapters.NewStateQueue(dc, stateStore, replica)
	hooks.Queue = queue
	a.Go("webhook dispatcher", func(ctx context.Context) error { hooks.Dispatch(ctx, queue, 500*time.Millisecond, 16, log); return nil })
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	svc := &app.Service{
		Mailer:    adapters.EmailBinding{Client: dc, Binding: binding},
		Claims:    adapters.StateClaims{Client: dc, Store: stateStore},
		Users:     adapters.UsersDirectory{Client: usersv1.NewUsersServiceClient(usersConn)},
		Prefs:     adapters.StatePreferences{Client: dc, Store: stateStore},
		Templates: templates.All,
		BaseURL:   baseURL,
		Webhooks:  hooks,
	}
	srv, health := server.NewGRPC(log)
	notificationsv1.RegisterPreferencesServiceServer(srv, ports.Preferences{App: svc})
	notificationsv1.RegisterWebhooksServiceServer(srv, ports.Webhooks{App: hooks})
	subs := subscriber.New(log, nil)
	handler := subscriber.Events(codec, func(ctx context.Context, _ string, e events.Envelope) error { return svc.Handle(ctx, e) })
	dead, err := deadletter.NewState(dc, stateStore, "notifications")
	if err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	if err := subs.Consume(pubsub, "notifications", handler, dead.Handle); err != nil {
		return err
	}
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
