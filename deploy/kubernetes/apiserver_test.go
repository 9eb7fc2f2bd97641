package kubernetes

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/services/platform/poll"
)

// CRDs the manifests use besides Kubernetes' own kinds: Dapr's (from the dapr module's Helm chart)
// and the External Secrets Operator's, both read from the Go module cache.
var crdSources = []struct{ module, glob string }{
	{"github.com/dapr/dapr@v1.16.2", "charts/dapr/crds/*.yaml"},
	{"github.com/external-secrets/external-secrets@v0.16.2", "config/crds/bases/external-secrets.io_*.yaml"},
}

func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", mod, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download %s: %s", mod, out)
	}
	return m.Dir
}

// start runs a server for the test's lifetime, its output in the test's temporary directory; the
// channel is closed when it exits.
func start(t *testing.T, dir, name string, args ...string) <-chan struct{} {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s's log (last 3,000 bytes):\n%s", name, tail(string(b), 3000))
		}
	})
	return exited
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func port(t *testing.T) int {
	t.Helper()
	p, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every overlay, applied with a server-side dry run to a real kube-apiserver (v1.37, with etcd, on
// 127.0.0.1) that has Dapr's and the External Secrets Operator's CRDs: every object is accepted, Dapr
// components, configurations, subscriptions and resiliency included. The API server validates each
// object against its schema and admission (field types, unknown fields, immutable and required
// fields) without storing it.
func TestOverlays_AcceptedByTheAPIServer(t *testing.T) {
	bin := os.Getenv("KUBE_BIN")
	if bin == "" {
		t.Fatal("KUBE_BIN is not set; run with make test (deploy/local/apiserver.sh builds kube-apiserver, kubectl and etcd)")
	}
	dir := t.TempDir()

	// etcd, then kube-apiserver with a service-account key and a static admin token.
	etcdClient, etcdPeer, apiPort := port(t), port(t), port(t)
	start(t, dir, "etcd", filepath.Join(bin, "etcd"), "-data", filepath.Join(dir, "etcd"),
		"-client", fmt.Sprintf("http://127.0.0.1:%d", etcdClient), "-peer", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	token := "acme-test-admin-token"
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apiExited := start(t, dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--token-auth-file", filepath.Join(dir, "tokens.csv"), "--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.96.0.0/16", "--enable-priority-and-fairness=false",
		// No Service endpoints for the API server itself: it advertises a loopback address.
		"--endpoint-reconciler-type", "none")
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	waitReady(t, server, token, apiExited)

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, server, token)), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// The CRDs, for real, and wait until they are served.
	var crds []string
	for _, src := range crdSources {
		paths, _ := filepath.Glob(filepath.Join(moduleDir(t, src.module), src.glob))
		if len(paths) == 0 {
			t.Fatalf("no CRDs in %s/%s", src.module, src.glob)
		}
		crds = append(crds, paths...)
	}
	for _, p := range crds {
		if out, err := kubectl("", "apply", "--server-side", "-f", p); err != nil {
			t.Fatalf("installing %s: %v\n%s", p, err, out)
		}
	}
	if out, err := kubectl("", "wait", "--for", "condition=established", "--timeout", "60s", "crd", "--all"); err != nil {
		t.Fatalf("CRDs not established: %v\n%s", err, out)
	}
	// The namespace exists for real: namespaced objects are dry-run into it.
	if out, err := kubectl("", "create", "namespace", "acme"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			objs, rendered := render(t, overlay)
			want := 0
			for _, o := range objs {
				if o.Kind != "" {
					want++
				}
			}
			out, err := kubectl(rendered, "apply", "--server-side", "--dry-run=server", "--field-manager", "acme-test", "-f", "-")
			if err != nil {
				t.Fatalf("the API server refused part of overlays/%s: %v\n%s", overlay, err, out)
			}
			got := strings.Count(out, "(server dry run)")
			if got != want || want < 50 {
				t.Fatalf("%d objects accepted of %d rendered:\n%s", got, want, out)
			}
			t.Logf("%s: %d objects accepted", overlay, got)
		})
	}
}

// waitReady polls /readyz until the API server answers ok (it creates its default objects first),
// and fails the test if the server exits or two minutes pass.
func waitReady(t *testing.T, server, token string, exited <-chan struct{}) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a self-signed test server
	gone := func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	}
	ready := poll.Until(2*time.Minute, 200*time.Millisecond, func() bool {
		if gone() {
			return true
		}
		req, _ := http.NewRequest(http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	switch {
	case gone():
		t.Fatal("kube-apiserver exited")
	case !ready:
		t.Fatal("kube-apiserver never became ready")
	}
}
