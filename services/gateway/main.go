// Command gateway is the platform's REST edge. Clients reach every service through it; it checks
// each bearer token with users and calls backends through its Dapr sidecar.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/gateway/internal/httpapi"
	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/telemetry"
)

func main() {
	env := config.FromOS()
	log := telemetry.NewLogger(os.Stderr, "gateway", env.String("LOG_LEVEL", "info"))
	if err := run(env, log); err != nil {
		log.Error("gateway stopped", "error", err)
		os.Exit(1)
	}
}

func run(env *config.Env, log *slog.Logger) error {
	ctx, stop := server.SignalContext()
	defer stop()
	var (
		addr    = server.ListenAddr(env, "8080")
		timeout = env.Duration("BACKEND_TIMEOUT", 10*time.Second)
		sidecar = daprkit.FromEnv(env)
	)
	if err := env.Err(); err != nil {
		return err
	}
	shutdownTracing, err := telemetry.Setup(ctx, "gateway")
	if err != nil {
		return err
	}
	defer shutdownTracing(context.Background())

	usersConn, err := sidecar.DialApp("users")
	if err != nil {
		return err
	}
	defer usersConn.Close()

	projectsConn, err := sidecar.DialApp("projects")
	if err != nil {
		return err
	}
	defer projectsConn.Close()

	api := &httpapi.API{
		Users:          usersv1.NewUsersServiceClient(usersConn),
		Projects:       projectsv1.NewProjectsServiceClient(projectsConn),
		Log:            log,
		BackendTimeout: timeout,
		Ready: func(r *http.Request) error {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			if err := sidecar.WaitOutbound(ctx); err != nil {
				return fmt.Errorf("dapr sidecar not ready")
			}
			return nil
		},
	}
	srv := &http.Server{Addr: addr, Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	return server.ServeHTTP(ctx, log, srv)
}
