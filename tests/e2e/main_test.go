// Package e2e tests the platform black-box: it starts the topology the way make run does (the same
// launcher, dapr.yaml and components, real daprd sidecars, a Kafka-protocol broker, Redis and
// PostgreSQL) and talks to it through the gateway's REST API.
//
// Isolation from a running make run: the suite runs its own broker in-process, fresh databases, its own
// Redis database, name-resolution file and secrets file, and free ports for every process.
package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acme/platform/deploy/local/devsecrets"
	"github.com/acme/platform/deploy/local/kafkabroker"
	"github.com/acme/platform/deploy/local/launcher"
	"github.com/acme/platform/services/platform/postgres"
)

// env is what the tests reach: the gateway, the sidecars, the broker, the signing key.
var env struct {
	topo       *launcher.Topology
	gatewayURL string
	brokerAddr string
	signingKid string
	signingKey ed25519.PrivateKey
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	daprd := os.Getenv("DAPRD")
	if daprd == "" {
		// Not a skip: an e2e run without sidecars proves nothing, so it fails loudly.
		fmt.Fprintln(os.Stderr, "e2e: DAPRD is not set; run the suite with make test (it builds the sidecar)")
		return 1
	}
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	work, err := os.MkdirTemp("", "acme-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	logDir := filepath.Join(root, ".data", "e2e", "logs", time.Now().Format("20060102-150405"))

	broker, err := kafkabroker.Start(kafkabroker.Options{Partitions: 3})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer broker.Close()
	env.brokerAddr = broker.ListenAddrs()[0]

	secrets := filepath.Join(work, "secrets.json")
	if _, err := devsecrets.Write(secrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.signingKid, env.signingKey, err = devsecrets.SigningKey(secrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	appEnv := map[string]map[string]string{}
	for _, app := range []string{"users", "projects", "audit"} {
		url, drop, err := postgres.CreateDatabase(ctx, "acme_e2e_"+app)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer drop(context.Background())
		appEnv[app] = map[string]string{"DATABASE_URL": url}
	}

	resources := filepath.Join(work, "components")
	err = launcher.CopyResources(filepath.Join(root, "components", "local"), resources, []launcher.Override{
		{Name: "pubsub", Key: "brokers", Value: env.brokerAddr},
		{Name: "statestore", Key: "redisDB", Value: "1"},
		{Name: "secretstore", Key: "secretsFile", Value: secrets},
		{Kind: "Configuration", Name: "acme-local", Key: "connectionString", Value: filepath.Join(work, "nameresolution.db")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	start := time.Now()
	env.topo, err = launcher.Start(ctx, filepath.Join(root, "dapr.yaml"), launcher.Options{
		Daprd: daprd, LogDir: logDir, ResourcesDir: resources, Env: appEnv, FreePorts: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: topology did not come up:", err)
		return 1
	}
	fmt.Printf("e2e: topology healthy in %.1fs, logs in %s\n%s\n", time.Since(start).Seconds(), logDir, env.topo.Table())
	env.gatewayURL = fmt.Sprintf("http://127.0.0.1:%d", env.topo.App("gateway").AppPort)

	code = m.Run()

	for _, a := range env.topo.Apps {
		if err := a.Exited(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s ended during the run: %v\n", a.Spec.AppID, err)
		}
	}
	env.topo.Stop()
	if left := env.topo.Leftovers(); len(left) > 0 {
		fmt.Fprintln(os.Stderr, "e2e: processes left running after stop:", left)
		return 1
	}
	fmt.Println("e2e: topology stopped, no process left")
	return code
}
