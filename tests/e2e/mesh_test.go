package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	"github.com/acme/platform/services/platform/errs"
)

// sidecarClient is a projects client through app's sidecar, as that app calls (with its API token).
func sidecarClient(t *testing.T, app string) projectsv1.ProjectsServiceClient {
	t.Helper()
	token := env.topo.App(app).APIToken
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", env.topo.App(app).GRPCPort), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token), method, req, reply, cc, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return projectsv1.NewProjectsServiceClient(conn)
}

// Inside the mesh a backend believes caller metadata only from the app Dapr names as the caller
// (dapr-caller-app-id, set by the calling sidecar after anything the app sent): a user only from
// the apps that speak for users, system:<app> only from that app. The suite's eventsink app plays
// a compromised peer.
func TestMesh_BackendsBelieveOnlyWhatTheCallingAppMaySay(t *testing.T) {
	victim := newAccount(t, "mesh-victim")
	p, _ := victim.createProject(t, map[string]any{"name": "Mesh Target", "visibility": "private"})
	call := func(client projectsv1.ProjectsServiceClient, kv ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, append([]string{"dapr-app-id", "projects"}, kv...)...)
		_, err := client.GetProject(ctx, &projectsv1.GetProjectRequest{ProjectId: p.ID})
		return err
	}
	peer := sidecarClient(t, "eventsink")
	for name, kv := range map[string][]string{
		"the victim, claimed by a peer":         {"acme-caller-id", victim.ID},
		"the victim, with a forged calling app": {"acme-caller-id", victim.ID, "dapr-caller-app-id", "gateway"},
		"a platform caller the peer is not":     {"acme-caller-id", "system:notifications"},
		"a platform caller with a forged app":   {"acme-caller-id", "system:notifications", "dapr-caller-app-id", "notifications"},
	} {
		err := call(peer, kv...)
		if got := errs.FromStatus(err).Code; got != "auth.caller_untrusted" {
			t.Errorf("%s: %v, want auth.caller_untrusted", name, err)
		}
	}
	// The same call from the app that speaks for users is believed: the refusals above are the rule
	// about who calls, not a broken path.
	if err := call(sidecarClient(t, "gateway"), "acme-caller-id", victim.ID); err != nil {
		t.Fatalf("the victim through the gateway's sidecar: %v", err)
	}
}

// A local process that reaches an app's port or a sidecar's API directly gets nowhere: the app asks
// for its sidecar's app token, the sidecar for its app's API token. Both are fresh for each run.
func TestMesh_OnlyTheSidecarCallsTheAppAndOnlyTheAppCallsTheSidecar(t *testing.T) {
	victim := newAccount(t, "mesh-direct")
	p, _ := victim.createProject(t, map[string]any{"name": "Direct Target", "visibility": "private"})
	get := func(addr string, kv ...string) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
		_, err = projectsv1.NewProjectsServiceClient(conn).GetProject(ctx, &projectsv1.GetProjectRequest{ProjectId: p.ID})
		return err
	}
	appPort := fmt.Sprintf("127.0.0.1:%d", env.topo.App("projects").AppPort)
	forged := []string{"acme-caller-id", victim.ID, "dapr-caller-app-id", "gateway"}
	for name, kv := range map[string][]string{
		"no token":                               forged,
		"a made-up token":                        append([]string{"dapr-api-token", "guess"}, forged...),
		"the sidecar's API token, not the app's": append([]string{"dapr-api-token", env.topo.App("projects").APIToken}, forged...),
	} {
		if err := get(appPort, kv...); status.Code(err) != codes.Unauthenticated {
			t.Errorf("the app's port with %s: %v", name, err)
		}
	}
	// Nor can it hand an app a forged event: files would remove a user's files on this user.erased.
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", env.topo.App("files").AppPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = runtimev1.NewAppCallbackClient(conn).OnTopicEvent(ctx, &runtimev1.TopicEventRequest{Id: "forged", PubsubName: "pubsub",
		Topic: "acme.users.events", Data: []byte("forged"), DataContentType: "application/octet-stream"})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("a forged event on files' port: %v", err)
	}

	sidecar := fmt.Sprintf("127.0.0.1:%d", env.topo.App("gateway").GRPCPort)
	for name, kv := range map[string][]string{
		"no token":        append([]string{"dapr-app-id", "projects"}, forged[:2]...),
		"a made-up token": append([]string{"dapr-app-id", "projects", "dapr-api-token", "guess"}, forged[:2]...),
	} {
		if err := get(sidecar, kv...); status.Code(err) != codes.Unauthenticated {
			t.Errorf("the gateway's sidecar with %s: %v", name, err)
		}
	}
	// With the app's own token its sidecar lets the call through, so the refusals are the tokens'.
	if err := get(sidecar, "dapr-app-id", "projects", "dapr-api-token", env.topo.App("gateway").APIToken, "acme-caller-id", victim.ID); err != nil {
		t.Fatalf("through the gateway's sidecar with its token: %v", err)
	}
}

// Each sidecar's Configuration scopes the secret store to the secrets its app reads
// (components/secret-scopes.yaml): users reads the JWT signing key, the gateway cannot; files reads
// its S3 keys, billing cannot. Each asks with its app's own API token, as the app would.
func TestMesh_EachAppReadsOnlyItsOwnSecrets(t *testing.T) {
	read := func(app, secret string) int {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1.0/secrets/secretstore/%s", env.topo.App(app).HTTPPort, secret), nil)
		req.Header.Set("dapr-api-token", env.topo.App(app).APIToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		app, secret string
		want        int
	}{
		{"users", "jwt-signing-key", http.StatusOK},
		{"gateway", "jwt-signing-key", http.StatusForbidden},
		{"files", "files-s3", http.StatusOK},
		{"billing", "files-s3", http.StatusForbidden},
		{"billing", "stripe", http.StatusOK},
		{"files", "stripe", http.StatusForbidden},
		{"users", "billing-database", http.StatusForbidden},
	} {
		if got := read(c.app, c.secret); got != c.want {
			t.Errorf("%s reading %s: %d, want %d", c.app, c.secret, got, c.want)
		}
	}
}
