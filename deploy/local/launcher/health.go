package launcher

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// Readiness: a sidecar is ready when /v1.0/healthz answers, an app when its health check does.

// waitReady waits for every sidecar's /v1.0/healthz and every app's health. A gRPC app counts as up
// once it answers a health check through its own sidecar, which proves the whole invocation path.
func (t *Topology) waitReady(ctx context.Context, apps []*App) error {
	errc := make(chan error, len(apps))
	for _, a := range apps {
		go func() {
			err := a.waitReady(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w (logs in %s)", a.Spec.AppID, err, t.opts.LogDir)
			}
			errc <- err
		}()
	}
	var es []error
	for range apps {
		if err := <-errc; err != nil {
			es = append(es, err)
		}
	}
	return errors.Join(es...)
}

func (a *App) waitReady(ctx context.Context) error {
	var last error
	check := func(f func(context.Context) error) error {
		for {
			if err := a.Exited(); err != nil {
				a.State = "exited"
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			last = f(cctx)
			cancel()
			if last == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				a.State = "unhealthy"
				return fmt.Errorf("not ready: %w", last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := check(a.sidecarHealthy); err != nil {
		return fmt.Errorf("sidecar: %w", err)
	}
	if err := check(a.appHealthy); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.State = "healthy"
	return nil
}

func (a *App) sidecarHealthy(ctx context.Context) error {
	return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", a.HTTPPort))
}

func (a *App) appHealthy(ctx context.Context) error {
	if a.AppPort == 0 {
		return nil
	}
	if a.Spec.AppProtocol == "http" {
		path := a.Spec.AppHealthCheckPath
		if path == "" {
			path = "/healthz"
		}
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d%s", a.AppPort, path))
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", a.GRPCPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", a.Spec.AppID, "dapr-api-token", a.APIToken)
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %s", resp.GetStatus())
	}
	return nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return nil
}

// waitFor calls check every 100 ms until it succeeds or ctx ends.
func waitFor(ctx context.Context, check func(context.Context) error) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
