package launcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestReadRunFile_TheRepositoryFile(t *testing.T) {
	rf, err := ReadRunFile("../../../dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]AppSpec{}
	for _, a := range rf.Apps {
		ids[a.AppID] = a
	}
	for _, want := range []string{"gateway", "users", "audit"} {
		a, ok := ids[want]
		if !ok {
			t.Fatalf("no app %s", want)
		}
		if len(a.ResourcesPaths) != 1 || a.ConfigFilePath == "" || a.AppPort == 0 || a.Env == nil {
			t.Fatalf("%s did not inherit common: %+v", want, a)
		}
	}
	if ids["users"].AppProtocol != "grpc" || ids["gateway"].AppProtocol != "http" {
		t.Fatalf("protocols: users %s gateway %s", ids["users"].AppProtocol, ids["gateway"].AppProtocol)
	}
}

func TestReadRunFile_RefusesWhatItDoesNotMap(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown field":  "version: 1\napps:\n  - appID: a\n    appDirPath: .\n    command: [x]\n    containerImage: foo\n",
		"wrong version":  "version: 2\napps: []\n",
		"duplicate id":   "version: 1\napps:\n  - {appID: a, appDirPath: ., command: [x]}\n  - {appID: a, appDirPath: ., command: [x]}\n",
		"dotted id":      "version: 1\napps:\n  - {appID: a.b, appDirPath: ., command: [x]}\n",
		"no command":     "version: 1\napps:\n  - {appID: a, appDirPath: .}\n",
		"public channel": "version: 1\napps:\n  - {appID: a, appDirPath: ., command: [x], appChannelAddress: 0.0.0.0}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRunFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDaprdArgs_EveryListenerOnLoopbackNoControlPlane(t *testing.T) {
	rf, err := ReadRunFile("../../../dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	topo := &Topology{rf: rf}
	a := &App{Spec: rf.Apps[0], rf: rf, AppPort: 1, HTTPPort: 2, GRPCPort: 3, MetricsPort: 4, InternalPort: 5}
	args := strings.Join(topo.daprdArgs(a), " ")
	for _, want := range []string{
		"--dapr-listen-addresses 127.0.0.1", "--dapr-public-listen-address 127.0.0.1",
		"--dapr-internal-grpc-listen-address 127.0.0.1", "--metrics-listen-address 127.0.0.1",
		"--placement-host-address  ", "--scheduler-host-address  ", "--app-id " + a.Spec.AppID,
		"--app-port 1", "--dapr-http-port 2", "--dapr-grpc-port 3", "--metrics-port 4", "--dapr-internal-grpc-port 5",
		"--resources-path " + filepath.Join(rf.Dir, "components/local"), "--config " + filepath.Join(rf.Dir, "components/local/config-"+a.Spec.AppID+".yaml"), // its own Configuration
	} {
		if !strings.Contains(args, want) {
			t.Errorf("daprd args lack %q:\n%s", want, args)
		}
	}
	env := strings.Join(topo.appEnv(a), "\n")
	for _, want := range []string{"APP_ID=" + a.Spec.AppID, "APP_PORT=1", "DAPR_HTTP_PORT=2", "DAPR_GRPC_PORT=3"} {
		if !strings.Contains(env, want) {
			t.Errorf("app env lacks %s", want)
		}
	}
}

func TestCopyResources_OverridesAndRefusesStrayOverrides(t *testing.T) {
	dst := t.TempDir()
	err := CopyResources("../../../components/local", dst, []Override{
		{Name: "pubsub", Key: "brokers", Value: "127.0.0.1:1"},
		{Kind: "Configuration", Name: "acme-local", Key: "connectionString", Value: "/tmp/x.db"},
		{Kind: "Configuration", Name: "acme-local", Key: "spec.tracing.otel.endpointAddress", Value: "127.0.0.1:2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dst, "pubsub.yaml"))
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "127.0.0.1:1") || strings.Contains(string(b), "9092") {
		t.Fatalf("pubsub not overridden:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "config.yaml")); !strings.Contains(string(b), "/tmp/x.db") ||
		!strings.Contains(string(b), "endpointAddress: 127.0.0.1:2") {
		t.Fatalf("config not overridden:\n%s", b)
	}
	for _, stray := range []Override{{Name: "pubsub", Key: "nope", Value: "x"},
		{Kind: "Configuration", Name: "acme-local", Key: "spec.tracing.otel.nope", Value: "x"},
		{Kind: "Configuration", Name: "acme-local", Key: "spec.nope.otel.endpointAddress", Value: "x"}} {
		if err := CopyResources("../../../components/local", t.TempDir(), []Override{stray}); err == nil {
			t.Fatalf("an override that matched nothing was accepted: %+v", stray)
		}
	}
}

// Every app another app calls has a call timeout in the resiliency policy, the same in both
// environments (the gateway is called by clients, not through Dapr).
func TestResiliency_EveryCalledAppHasACallTimeoutInBothEnvironments(t *testing.T) {
	rf, err := ReadRunFile("../../../dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, env := range []string{"local", "kubernetes"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "components", env, "resiliency.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, string(b))
		var doc struct {
			Spec struct {
				Targets struct {
					Apps map[string]struct {
						Timeout string `yaml:"timeout"`
					} `yaml:"apps"`
				} `yaml:"targets"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, a := range rf.Apps {
			if a.AppID == "gateway" {
				continue
			}
			if doc.Spec.Targets.Apps[a.AppID].Timeout == "" {
				t.Errorf("components/%s/resiliency.yaml: no call timeout for %s", env, a.AppID)
			}
		}
	}
	if files[0] != files[1] {
		t.Error("components/local/resiliency.yaml and components/kubernetes/resiliency.yaml differ")
	}
}
