// Package server runs an app's listeners and stops them gracefully: on SIGINT or SIGTERM it stops
// accepting, lets calls in flight finish (bounded), then returns so main can close its adapters.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/daprkit"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/telemetry"
)

// Main runs an app: configuration from the environment, a JSON logger tagged with the app, OTel
// tracing and metrics, and a context that SIGINT or SIGTERM cancels. When run returns, the app's
// background loops are stopped and awaited, then what it registered to close is closed (see App).
// An error from run, or from a loop, ends the process with status 1 after tracing is flushed.
// tracing is passed to telemetry.Setup (telemetry.Edge for the app that takes outside requests).
func Main(name string, run func(ctx context.Context, a *App) error, tracing ...telemetry.Option) {
	env := config.FromOS()
	log := telemetry.NewLogger(os.Stderr, name, env.String("LOG_LEVEL", "info"))
	caller.SetSelf(env.String("APP_ID", name)) // whose calls come through the app's own sidecar
	tuneMemory(log)
	ctx, stop := SignalContext()
	shutdownTracing, err := telemetry.Setup(ctx, name, tracing...)
	if err == nil {
		var stopMetrics func(context.Context) error
		if stopMetrics, err = telemetry.SetupMetrics(metricsAddr(env), env.Bool("ENABLE_PROFILING", false)); err == nil {
			err = runApp(ctx, &App{Name: name, Env: env, Log: log}, run)
			_ = stopMetrics(context.Background())
		}
		_ = shutdownTracing(context.Background())
	}
	stop()
	if err != nil {
		log.Error(name+" stopped", "error", err)
		os.Exit(1)
	}
}

// metricsAddr is where /metrics is served: APP_METRICS_PORT on METRICS_LISTEN_HOST (default
// LISTEN_HOST); none when unset. On Kubernetes the app listens on 127.0.0.1 and its metrics on the
// pod's IP, where Prometheus scrapes them.
func metricsAddr(env *config.Env) string {
	port := env.String("APP_METRICS_PORT", "")
	if port == "" {
		return ""
	}
	return net.JoinHostPort(env.String("METRICS_LISTEN_HOST", env.String("LISTEN_HOST", "127.0.0.1")), port)
}

// ListenAddr is where an app listens: LISTEN_HOST (default 127.0.0.1, so only its sidecar and local
// tools reach it) and APP_PORT, which the launcher, the Dapr CLI and the manifests set.
func ListenAddr(env *config.Env, defaultPort string) string {
	return net.JoinHostPort(env.String("LISTEN_HOST", "127.0.0.1"), env.String("APP_PORT", defaultPort))
}

// ShutdownTimeout bounds how long calls in flight may take once a stop is asked for.
const ShutdownTimeout = 10 * time.Second

// SignalContext is cancelled by SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// NewGRPC returns a gRPC server with the platform's interceptors: the app API token checked, request
// ids into the context (and so into every log line), domain errors mapped to statuses, panics
// contained, OTel tracing. It also serves the standard grpc.health.v1 service, which the launcher and
// Kubernetes probes use.
//
// With APP_API_TOKEN set (the launcher sets it for the app and its sidecar; Kubernetes from a secret),
// every call but the health checks must carry it as dapr-api-token, which only the app's sidecar
// sends: another process that reaches the port cannot call the app, caller metadata or not.
func NewGRPC(log *slog.Logger) (*grpc.Server, *health.Server) {
	unary, stream := appToken(os.Getenv("APP_API_TOKEN"))
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(unary, requestID, errs.UnaryServerInterceptor(log)),
		grpc.ChainStreamInterceptor(stream),
		// Calls run on long-lived workers, not on a new goroutine each: a new goroutine starts with
		// a small stack and grew it on every call (runtime.newstack, copying the stack: 8-13 % of
		// each app's CPU per request under load). When every worker is busy a call still gets a
		// goroutine of its own.
		grpc.NumStreamWorkers(streamWorkers),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	return srv, hs
}

// streamWorkers serve calls (see NewGRPC): as many as the load harness' concurrency of 16, at least.
var streamWorkers = uint32(max(16, 4*runtime.GOMAXPROCS(0)))

// untokened are the calls daprd v1.16.2 makes without the app token: its app health probe and its
// questions about what the app subscribes to. They read nothing and change nothing; everything that
// does (service invocation, event delivery) carries the token.
var untokened = map[string]bool{
	"/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck": true,
	"/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions": true,
	"/dapr.proto.runtime.v1.AppCallback/ListInputBindings":      true,
}

// appToken refuses calls that do not carry token as dapr-api-token (none when token is "").
func appToken(token string) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	check := func(ctx context.Context, method string) error {
		if token == "" || untokened[method] || strings.HasPrefix(method, "/grpc.health.v1.Health/") {
			return nil
		}
		got := metadata.ValueFromIncomingContext(ctx, "dapr-api-token") // one key: no copy of the whole metadata
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(token)) != 1 {
			return status.Error(codes.Unauthenticated, "only this app's sidecar may call it: the app API token is missing or wrong")
		}
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return handler(srv, ss)
		}
}

func requestID(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if ids := metadata.ValueFromIncomingContext(ctx, daprkit.RequestIDHeader); len(ids) > 0 {
		ctx = telemetry.WithRequestID(ctx, ids[0])
	}
	return handler(ctx, req)
}

// ServeGRPC serves srv on addr until ctx ends, then stops gracefully.
func ServeGRPC(ctx context.Context, log *slog.Logger, addr string, srv *grpc.Server, hs *health.Server) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	log.Info("serving gRPC", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	hs.Shutdown()
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(ShutdownTimeout):
		srv.Stop()
	}
	return nil
}

// ServeHTTP serves h on addr until ctx ends, then shuts down gracefully.
func ServeHTTP(ctx context.Context, log *slog.Logger, srv *http.Server) error {
	lis, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", srv.Addr, err)
	}
	return serveHTTPOn(ctx, log, srv, lis, func() error { return srv.Serve(lis) })
}

// ServeHTTPS serves h with TLS (certificate already in srv.TLSConfig) on addr until ctx ends.
func ServeHTTPS(ctx context.Context, log *slog.Logger, srv *http.Server) error {
	lis, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", srv.Addr, err)
	}
	return serveHTTPOn(ctx, log, srv, lis, func() error { return srv.ServeTLS(lis, "", "") })
}

func serveHTTPOn(ctx context.Context, log *slog.Logger, srv *http.Server, lis net.Listener, serve func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	log.Info("serving HTTP", "addr", lis.Addr().String(), "tls", srv.TLSConfig != nil)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
