// Package daprstatetest starts a bare daprd with the Redis state store, for test suites that run
// against the real sidecar (daprstate's own, the notifications state adapters').
package daprstatetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/redis/go-redis/v9"

	"github.com/acme/platform/deploy/local/launcher"
)

// StoreName is the state store component the sidecar loads.
const StoreName = "statestore"

// Start runs daprd (DAPRD, which make test sets) with a Redis state store on 127.0.0.1:6379 in
// redisDB, its files in dir, and returns a client of it and a stop function.
func Start(ctx context.Context, dir, appID string, redisDB int) (dapr.Client, func(), error) {
	daprd := os.Getenv("DAPRD")
	if daprd == "" {
		return nil, nil, errors.New("DAPRD is not set; run the tests with make test (it builds the sidecar)")
	}
	resources := filepath.Join(dir, "components")
	if err := os.MkdirAll(resources, 0o755); err != nil {
		return nil, nil, err
	}
	files := map[string]string{
		filepath.Join(resources, "statestore.yaml"): fmt.Sprintf(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: %s
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: "127.0.0.1:6379"
    - name: redisDB
      value: "%d"
`, StoreName, redisDB),
		// sqlite name resolution: the default, mDNS, would multicast.
		filepath.Join(dir, "config.yaml"): fmt.Sprintf(`apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: %s
spec:
  nameResolution:
    component: sqlite
    configuration:
      connectionString: %q
`, appID, filepath.Join(dir, "nameresolution.db")),
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return nil, nil, err
		}
	}
	log := filepath.Join(dir, "daprd.log")
	sc, err := launcher.StartSidecar(ctx, launcher.SidecarOptions{Daprd: daprd, AppID: appID,
		ResourcesDir: resources, Config: filepath.Join(dir, "config.yaml"), Log: log})
	if err != nil {
		if b, rerr := os.ReadFile(log); rerr == nil {
			err = fmt.Errorf("%w\n%s", err, b)
		}
		return nil, nil, err
	}
	client, err := dapr.NewClientWithAddress(fmt.Sprintf("127.0.0.1:%d", sc.GRPCPort))
	if err != nil {
		sc.Close()
		return nil, nil, err
	}
	return client, func() { client.Close(); sc.Close() }, nil
}

// Run is a test package's TestMain body: it empties Redis database redisDB, starts the sidecar,
// sets *client, runs the tests and stops the sidecar; its result is the exit code.
func Run(m interface{ Run() int }, appID string, redisDB int, client *dapr.Client) int {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: redisDB})
	err := rdb.FlushDB(context.Background()).Err()
	rdb.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, appID+": flush redis db:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", appID+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	c, stop, err := Start(context.Background(), dir, appID, redisDB)
	if err != nil {
		fmt.Fprintln(os.Stderr, appID+":", err)
		return 1
	}
	defer stop()
	*client = c
	return m.Run()
}
