// Command notifications turns events into emails through the Dapr email binding: verification on
// user.registered, password reset, and invitations on project.member_added.
package main

import (
	"context"
	"log/slog"

	notificationsv1 "github.com/acme/platform/contracts/gen/go/acme/notifications/v1"
	opsv1 "github.com/acme/platform/contracts/gen/go/acme/ops/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/notifications/internal/adapters"
	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/notifications/internal/ports"
	"github.com/acme/platform/services/notifications/templates"
	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/deadletter"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
)

func main() { server.Main("notifications", run) }

func run(ctx context.Context, env *config.Env, log *slog.Logger) error {
	var (
		addr       = server.ListenAddr(env, "50104")
		pubsub     = env.String("PUBSUB_NAME", "pubsub")
		stateStore = env.String("STATE_STORE_NAME", "statestore")
		binding    = env.String("EMAIL_BINDING", "email")
		baseURL    = env.String("APP_BASE_URL", "http://localhost:3000")
		sidecar    = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	dc, err := sidecar.Client(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	usersConn, err := sidecar.DialApp("users")
	if err != nil {
		return err
	}
	defer usersConn.Close()
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
	}
	srv, health := server.NewGRPC(log)
	notificationsv1.RegisterPreferencesServiceServer(srv, ports.Preferences{App: svc})
	subs := subscriber.New(log, nil)
	handler := subscriber.Events(codec, func(ctx context.Context, _ string, e events.Envelope) error { return svc.Handle(ctx, e) })
	dead, err := deadletter.NewState(dc, stateStore, "notifications")
	if err != nil {
		return err
	}
	opsv1.RegisterDeadLetterServiceServer(srv, deadletter.Server{Store: dead})
	for _, topic := range []string{events.TopicUsers, events.TopicProjects} {
		subs.Handle(pubsub, topic, handler)
		subs.Handle(pubsub, deadletter.Topic(topic, "notifications"), dead.Handle)
	}
	subs.Register(srv)
	return server.ServeGRPC(ctx, log, addr, srv, health)
}
