package observability

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The generated configuration is one promtool accepts, with the platform's rules, and labels each
// target as the Kubernetes scrape configuration does.
func TestConfig_PromtoolAcceptsItWithThePlatformsRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing; make infra installs Debian's prometheus package")
	}
	rules, _ := filepath.Abs("../../observability/prometheus/rules/*.yaml")
	cfg, err := Config([]Target{{App: "gateway", Component: "app", Addr: "127.0.0.1:9101"},
		{App: "gateway", Component: "daprd", Addr: "127.0.0.1:9102"}}, 2*time.Second, []string{rules})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
	if !strings.Contains(string(out), "SUCCESS: 2 rule files found") {
		t.Fatalf("the rules were not loaded:\n%s", out)
	}
	for _, want := range []string{"job_name: acme-apps", "job_name: acme-sidecars", "127.0.0.1:9101", "component: daprd", "app: gateway"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if _, err := Config([]Target{{App: "x", Component: "sidecar", Addr: "127.0.0.1:1"}}, time.Second, nil); err == nil {
		t.Error("a target of an unknown component was accepted")
	}
}

// The query API's OTLP JSON becomes spans with service, scope, kind and attributes.
func TestSpans_ReadsTheQueryAPIsOTLPJSON(t *testing.T) {
	const answer = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"projects"}}]},
	  "scopeSpans":[{"scope":{"name":"acme/outbox"},"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
	  "parentSpanId":"00f067aa0ba902b7","name":"publish acme.projects.events","kind":4,
	  "attributes":[{"key":"messaging.system","value":{"stringValue":"kafka"}},{"key":"n","value":{"intValue":"3"}},{"key":"b","value":{"boolValue":true}}]}]}]}]}`
	var tr otlpTraces
	if err := json.Unmarshal([]byte(answer), &tr); err != nil {
		t.Fatal(err)
	}
	spans := tr.spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Service != "projects" || s.Scope != "acme/outbox" || s.Kind != "producer" || s.Name != "publish acme.projects.events" ||
		s.SpanID != "b7ad6b7169203331" || s.ParentSpanID != "00f067aa0ba902b7" || s.TraceID != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("read %+v", s)
	}
	if s.Attributes["messaging.system"] != "kafka" || s.Attributes["n"] != "3" || s.Attributes["b"] != "true" {
		t.Fatalf("attributes %v", s.Attributes)
	}
}
