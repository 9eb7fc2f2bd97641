// Package e2e tests the platform black-box: it starts the topology the way make run does (the same
// launcher, dapr.yaml and components, real daprd sidecars, Apache Kafka, Redis and
// PostgreSQL) and talks to it through the gateway's REST API.
//
// Isolation from a running make run: the suite runs its own Kafka broker, fresh databases, its own
// Redis database, name-resolution file and secrets file, and free ports for every process.
package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/platform/contracts/consumers"
	"github.com/acme/platform/deploy/local/devsecrets"
	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/deploy/local/kafkabroker"
	"github.com/acme/platform/deploy/local/launcher"
	"github.com/acme/platform/deploy/local/observability"
	"github.com/acme/platform/deploy/local/searchnode"
	"github.com/acme/platform/deploy/local/secretscopes"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/postgres"
)

// env is what the tests reach: the gateway, the sidecars, the broker, the signing key.
var env struct {
	topo       *launcher.Topology
	gatewayURL string
	brokerAddr string
	broker     *kafkabroker.Broker
	signingKid string
	signingKey ed25519.PrivateKey
	// The gateway's HTTPS address and the certificate it serves.
	gatewayTLS string
	tlsCert    []byte
	// The test consumer's HTTP view of what it received.
	sinkURL string
	// The audit database, for the tamper test; users and projects, for counting what a reindex reads.
	auditDB, usersDB, projectsDB string
	// billingDB is billing's own database, as billing's role (from the secret store).
	billingDB string
	filesDB   string
	// stripe is the suite's Stripe: stripe-mock behind a proxy that records (and can disturb) calls.
	stripe *stripeProxy
	// stripeWebhookSecret signs the suite's own Stripe webhook payloads.
	stripeWebhookSecret string
	// Mailpit's HTTP API: what notifications sent.
	mailAPI string
	// What a further gateway replica needs to join the same topology.
	runFile, daprd, resources, logDir string
	gatewayEnv                        map[string]string
	// The suite's stand-in for hooks.slack.com.
	slack *slackStandIn
	// The suite's trace store (every app and sidecar sends its spans there) and the Prometheus
	// scraping every app and sidecar.
	traces *observability.TraceStore
	prom   *observability.Prometheus
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

	// Apache Kafka of the suite's own, on free ports, with its data in the work directory; the crash
	// tests kill and restart it.
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.broker, err = kafkabroker.Start(kafkabroker.Options{Partitions: 3, DataDir: filepath.Join(work, "kafka"),
		Log: filepath.Join(logDir, "kafka.log")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.broker.Close()
	env.brokerAddr = env.broker.Addr

	// An S3-compatible server of the suite's own, as make infra runs one; a bucket is a folder.
	s3, err := startS3(work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer s3.stop()
	mail, err := startMailpit()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer mail.stop()
	env.mailAPI = mail.api

	// The trace store of the suite's own, as make run starts one; every app and sidecar sends it spans.
	env.traces, err = observability.StartTraceStore(observability.TraceStoreOptions{Dir: filepath.Join(work, "jaeger")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.traces.Close()

	secrets := filepath.Join(work, "secrets.json")
	if _, err := devsecrets.Write(secrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.signingKid, env.signingKey, err = devsecrets.ReadSigningKey(secrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	if env.tlsCert, err = devsecrets.TLSCertificate(secrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tlsPort, err := freeport.Get()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The gateway keeps its rate-limit counters in the suite's Redis database, with limits the suite's
	// own traffic stays far below; the rate-limit test starts replicas of its own with a low limit.
	env.gatewayEnv = map[string]string{
		"REDIS_DB": "1", "RATE_LIMIT_AUTH": "5000/m", "RATE_LIMIT_API": "20000/m", "TLS_PORT": fmt.Sprint(tlsPort),
	}
	// Redis database 1 belongs to this suite: it starts empty, so counters of an earlier run (failed
	// sign-ins, rate limits) cannot leak into this one.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 1})
	err = rdb.FlushDB(ctx).Err()
	rdb.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: flush redis db 1:", err)
		return 1
	}
	appEnv := map[string]map[string]string{
		"gateway": env.gatewayEnv,
		"users": {"BOOTSTRAP_ADMIN_EMAILS": adminEmail + "," + secondBootstrapEmail, "LOGIN_FAILURES_PER_ACCOUNT": "5",
			"LOGIN_FAILURES_PER_ADDRESS": fmt.Sprint(addressFailureLimit)},
		"audit": {"ARCHIVE_INTERVAL": "1s"},
	}
	env.slack = startSlack()
	defer env.slack.Close()
	// Webhooks: the suite's receivers listen on 127.0.0.1, which only an allow-list admits; retries
	// are quick and an endpoint is disabled after three failed attempts in a row.
	appEnv["notifications"] = map[string]string{"WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32", "WEBHOOK_RETRY_BASE": "400ms",
		"WEBHOOK_RETRY_MAX": "2s", "WEBHOOK_DISABLE_AFTER": "3", "SLACK_WEBHOOK_BASE": env.slack.URL}
	// notifications keeps no SQL
	dbs, dropDBs, err := postgres.CreateDatabases(ctx, "acme_e2e", "users", "projects", "audit", "files")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer dropDBs(context.Background())
	for app, url := range dbs {
		if appEnv[app] == nil {
			appEnv[app] = map[string]string{}
		}
		appEnv[app]["DATABASE_URL"] = url
	}

	// Billing's database URL (its own role and password) reaches billing through the secret store.
	billingURL, dropBilling, err := postgres.CreateDatabase(ctx, "acme_e2e_billing")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer dropBilling(context.Background())
	env.billingDB = billingURL
	if err := devsecrets.Set(secrets, devsecrets.BillingDatabase, "url", billingURL); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if env.stripeWebhookSecret, err = devsecrets.Get(secrets, devsecrets.Stripe, "webhook-secret"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.stripe, err = startStripe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.stripe.stop()
	// Billing periods of 20 s, so the suite sees periods close; reconciliation only when a test asks.
	appEnv["billing"] = map[string]string{"STRIPE_API_BASE": env.stripe.URL, "BILLING_PERIOD": billingPeriod.String(),
		"INVOICE_INTERVAL": "500ms", "RECONCILE_INTERVAL": "1h"}

	// Files: the suite's S3 server, make infra's clamd (like PostgreSQL, shared), and a small upload
	// limit so the oversize test stays small; the gateway holds the same limit.
	appEnv["files"]["S3_ENDPOINT"] = s3.endpoint
	appEnv["files"]["MAX_UPLOAD_BYTES"] = fmt.Sprint(maxUpload)
	env.gatewayEnv["MAX_UPLOAD_BYTES"] = fmt.Sprint(maxUpload)
	// Resumable uploads: larger than a synchronous one (several S3 parts), parts waiting in the
	// suite's directory, and a worker that finishes complete uploads every second.
	appEnv["files"]["MAX_RESUMABLE_UPLOAD_BYTES"] = fmt.Sprint(maxResumable)
	env.gatewayEnv["MAX_RESUMABLE_UPLOAD_BYTES"] = fmt.Sprint(maxResumable)
	appEnv["files"]["UPLOAD_PARTS_DIR"] = filepath.Join(work, "upload-parts")
	appEnv["files"]["UPLOAD_WORKER_INTERVAL"] = "1s"
	env.filesDB = appEnv["files"]["DATABASE_URL"]

	env.auditDB = appEnv["audit"]["DATABASE_URL"]
	env.usersDB, env.projectsDB = appEnv["users"]["DATABASE_URL"], appEnv["projects"]["DATABASE_URL"]
	appEnv["search"] = map[string]string{"SEARCH_INDEX_DIR": filepath.Join(work, "search-index")}
	// E2E_SEARCH_BACKEND=elasticsearch runs search on its Elasticsearch adapter against an OpenSearch
	// node of the suite's own (make test runs the search tests once that way).
	if backend := os.Getenv("E2E_SEARCH_BACKEND"); backend == "elasticsearch" {
		node, err := searchnode.Start(searchnode.Options{Dir: filepath.Join(work, "opensearch"), Log: filepath.Join(logDir, "opensearch.log")})
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer node.Close()
		appEnv["search"] = map[string]string{"SEARCH_BACKEND": "elasticsearch", "ELASTICSEARCH_URL": node.URL}
		fmt.Println("e2e: search runs on its Elasticsearch adapter against OpenSearch at", node.DirectURL)
	} else if backend != "" && backend != "bleve" {
		fmt.Fprintln(os.Stderr, "e2e: E2E_SEARCH_BACKEND must be bleve or elasticsearch, not", backend)
		return 1
	}
	// The suite's own consumer joins the pub/sub scopes as any consumer would (consumers.yaml).
	declared, err := consumers.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	withSink := declared.With("eventsink", events.TopicProjects)
	resources := filepath.Join(work, "components")
	scopes, err := secretscopes.Load(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// Every app's own Configuration (its secret scopes) resolves names in the suite's own file too,
	// and sends the sidecar's spans to the suite's trace store.
	names := []string{"acme-local"} // the shared Configuration dapr.yaml names for others
	for _, app := range scopes.AppIDs() {
		names = append(names, "acme-local-"+app)
	}
	var configs []launcher.Override
	for _, name := range names {
		configs = append(configs, launcher.Override{Kind: "Configuration", Name: name, Key: "connectionString",
			Value: filepath.Join(work, "nameresolution.db")},
			launcher.Override{Kind: "Configuration", Name: name, Key: "spec.tracing.otel.endpointAddress", Value: env.traces.OTLPEndpoint})
	}
	err = launcher.CopyResources(filepath.Join(root, "components", "local"), resources, append(configs, []launcher.Override{
		{Name: "pubsub", Key: "scopes", Value: "eventsink"},
		{Name: "pubsub", Key: "brokers", Value: env.brokerAddr},
		{Name: "pubsub", Key: "publishingScopes", Value: withSink.PublishingScopes()},
		{Name: "pubsub", Key: "subscriptionScopes", Value: withSink.SubscriptionScopes()},
		{Name: "pubsub", Key: "protectedTopics", Value: withSink.ProtectedTopics()},
		{Name: "statestore", Key: "redisDB", Value: "1"},
		{Name: "objectstore", Key: "endpoint", Value: s3.endpoint},
		{Name: "email", Key: "port", Value: mail.smtpPort},
		{Name: "secretstore", Key: "secretsFile", Value: secrets},
	}...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	if err := os.WriteFile(filepath.Join(resources, "eventsink-subscription.yaml"), []byte(sinkSubscription), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	sinkPort, err := freeport.Get()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.sinkURL = fmt.Sprintf("http://127.0.0.1:%d", sinkPort)
	env.runFile, env.daprd, env.resources, env.logDir = filepath.Join(root, "dapr.yaml"), daprd, resources, logDir
	start := time.Now()
	env.topo, err = launcher.Start(ctx, env.runFile, launcher.Options{
		Daprd: daprd, LogDir: logDir, ResourcesDir: resources, Env: appEnv, FreePorts: true, CommonEnv: env.traces.ExportEnv(),
		// A consumer of the tests' own, subscribed through its sidecar like any service.
		Extra: []launcher.AppSpec{{AppID: "eventsink", AppDirPath: "tests/e2e/eventsink", AppPort: 50199,
			EnableAppHealthCheck: true, AppHealthProbeInterval: 1, Command: []string{"go", "run", "."},
			Env: map[string]string{"SINK_HTTP_PORT": fmt.Sprint(sinkPort)}}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: topology did not come up:", err)
		return 1
	}
	fmt.Printf("e2e: topology healthy in %.1fs, logs in %s\n%s\n", time.Since(start).Seconds(), logDir, env.topo.Table())
	env.gatewayURL = fmt.Sprintf("http://127.0.0.1:%d", env.topo.App("gateway").AppPort)
	env.gatewayTLS = fmt.Sprintf("https://127.0.0.1:%d", tlsPort)

	// Prometheus as make run starts it, with the platform's rules, scraping every platform app and
	// sidecar (the suite's event sink serves no metrics) every second.
	var platform []*launcher.App
	for _, a := range env.topo.Apps {
		if a.Spec.AppID != "eventsink" {
			platform = append(platform, a)
		}
	}
	env.prom, err = observability.StartPrometheus(observability.PrometheusOptions{Dir: filepath.Join(work, "prometheus"),
		Targets: observability.TopologyTargets(platform), ScrapeInterval: time.Second,
		RuleFiles: []string{filepath.Join(root, "deploy", "observability", "prometheus", "rules", "*.yaml")}})
	if err != nil {
		env.topo.Stop()
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.prom.Close()

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

// sinkSubscription subscribes the test consumer the way components/local subscribes the services.
const sinkSubscription = `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: eventsink-projects
spec:
  pubsubname: pubsub
  topic: acme.projects.events
  routes:
    default: /acme.projects.events
  deadLetterTopic: acme.projects.events.deadletter.eventsink
  metadata:
    rawPayload: "true"
scopes:
  - eventsink
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: eventsink-projects-deadletters
spec:
  pubsubname: pubsub
  topic: acme.projects.events.deadletter.eventsink
  routes:
    default: /acme.projects.events.deadletter.eventsink
  metadata:
    rawPayload: "true"
scopes:
  - eventsink
`

// adminEmail registers as a platform admin (BOOTSTRAP_ADMIN_EMAILS); the databases are new each run.
const adminEmail = "e2e-admin@example.com"

// secondBootstrapEmail is listed too, but verified after the first: it stays a member.
const secondBootstrapEmail = "e2e-admin-2@example.com"

// addressFailureLimit is the failed sign-ins one client address may make per window in this suite.
const addressFailureLimit = 30

type mailServer struct {
	api, smtpPort string
	stop          func()
}

// startMailpit runs Mailpit (built by make test, path in MAILPIT) with SMTP and its API on free ports.
func startMailpit() (*mailServer, error) {
	smtpPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	httpPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	stop, err := startHelper("MAILPIT", httpPort, nil, "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort), "--disable-version-check", "--smtp-disable-rdns")
	if err != nil {
		return nil, err
	}
	return &mailServer{api: fmt.Sprintf("http://127.0.0.1:%d", httpPort), smtpPort: fmt.Sprint(smtpPort), stop: stop}, nil
}

type s3Server struct {
	endpoint string
	stop     func()
}

// startS3 runs versitygw (built by make test, path in VERSITYGW) on a free port, with the archive
// bucket as a folder under dir.
func startS3(dir string) (*s3Server, error) {
	port, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "s3")
	for _, bucket := range []string{"acme-audit-archive", "acme-files"} {
		if err := os.MkdirAll(filepath.Join(root, bucket), 0o755); err != nil {
			return nil, err
		}
	}
	stop, err := startHelper("VERSITYGW", port, []string{"ROOT_ACCESS_KEY_ID=acme-local-dev", "ROOT_SECRET_ACCESS_KEY=acme-local-dev-secret"},
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", root)
	if err != nil {
		return nil, err
	}
	return &s3Server{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), stop: stop}, nil
}

// startHelper runs the server binary named by the environment variable binEnv (make test builds it)
// in its own process group and waits until it listens on port; stop kills the group.
func startHelper(binEnv string, port int, extraEnv []string, args ...string) (func(), error) {
	bin := os.Getenv(binEnv)
	if bin == "" {
		return nil, fmt.Errorf("%s is not set; run the suite with make test", binEnv)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("%s did not listen on %d", filepath.Base(bin), port)
}
