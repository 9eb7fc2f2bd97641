// Package daprkit connects a service to its Dapr sidecar: it waits until the sidecar can reach its
// components, builds the Dapr client, and dials other apps through Dapr gRPC service invocation.
package daprkit

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/telemetry"
)

// Sidecar is where this app's daprd listens; the launcher, the Dapr CLI and the Kubernetes injector
// all hand these over as DAPR_HTTP_PORT and DAPR_GRPC_PORT.
type Sidecar struct {
	Host     string
	HTTPPort string
	GRPCPort string
	// APIToken is what the sidecar's API asks of this app (DAPR_API_TOKEN; "" when it asks none). The
	// Dapr client (go-sdk) reads the same variable itself.
	APIToken string
}

// FromEnv reads the sidecar's ports and API token.
func FromEnv(env *config.Env) Sidecar {
	return Sidecar{
		Host:     env.String("DAPR_HOST", "127.0.0.1"),
		HTTPPort: env.String("DAPR_HTTP_PORT", "3500"),
		GRPCPort: env.String("DAPR_GRPC_PORT", "50001"),
		APIToken: env.String("DAPR_API_TOKEN", ""),
	}
}

// GRPCAddress is the sidecar's gRPC API.
func (s Sidecar) GRPCAddress() string { return s.Host + ":" + s.GRPCPort }

// WaitOutbound blocks until /v1.0/healthz/outbound answers 204: the sidecar has loaded its components
// and can publish, save state and invoke other apps. It does not wait for this app to be reachable.
func (s Sidecar) WaitOutbound(ctx context.Context) error {
	url := "http://" + s.Host + ":" + s.HTTPPort + "/v1.0/healthz/outbound"
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("dapr sidecar at %s not ready: %w", url, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Client waits for the sidecar and returns a Dapr client on its gRPC API.
func (s Sidecar) Client(ctx context.Context) (dapr.Client, error) {
	if err := s.WaitOutbound(ctx); err != nil {
		return nil, err
	}
	return dapr.NewClientWithAddressContext(ctx, s.GRPCAddress())
}

// DialApp returns a connection that reaches app appID through this sidecar: every call carries the
// dapr-app-id metadata, so daprd proxies it (with its resiliency policy, mTLS and tracing) to the
// app's own gRPC server. The generated client of the app's contract is used on top of it.
func (s Sidecar) DialApp(appID string) (*grpc.ClientConn, error) {
	return grpc.NewClient(s.GRPCAddress(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", appID)
			if s.APIToken != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", s.APIToken)
			}
			if id := telemetry.RequestID(ctx); id != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		// A streaming call (a file upload) goes through daprd's gRPC proxy as a stream.
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", appID, "dapr-stream", "true")
			if s.APIToken != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", s.APIToken)
			}
			if id := telemetry.RequestID(ctx); id != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
			}
			return streamer(ctx, desc, cc, method, opts...)
		}),
	)
}

// RequestIDHeader carries the gateway's request id to every backend call.
const RequestIDHeader = "x-request-id"
