// Package observability holds the monitoring files: Prometheus rules (alerts and the recording rules
// they use), their unit tests, and the Grafana dashboard. Its tests run promtool (make infra installs
// Debian's prometheus package) on all of them.
package observability

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed; make infra installs it (Debian's prometheus package)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	return paths
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The rule files are valid and their unit tests pass.
func TestRules_PromtoolChecksAndUnitTests(t *testing.T) {
	promtool(t, append([]string{"check", "rules"}, glob(t, "prometheus/rules/*.yaml")...)...)
	promtool(t, append([]string{"test", "rules"}, glob(t, "prometheus/tests/*.yaml")...)...)
}

// Every alert has a unit test in which it fires, and every rule file is loaded by a test file.
func TestRules_EveryAlertFiresInAUnitTest(t *testing.T) {
	var alerts []string
	for _, p := range glob(t, "prometheus/rules/*.yaml") {
		var f struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAML(t, p, &f)
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					alerts = append(alerts, r.Alert)
				}
			}
		}
	}
	fired, loaded := map[string]bool{}, map[string]bool{}
	for _, p := range glob(t, "prometheus/tests/*.yaml") {
		var f struct {
			RuleFiles []string `yaml:"rule_files"`
			Tests     []struct {
				AlertRuleTest []struct {
					AlertName string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		readYAML(t, p, &f)
		for _, rf := range f.RuleFiles {
			loaded[filepath.Base(rf)] = true
		}
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fired[a.AlertName] = true
				}
			}
		}
	}
	if len(alerts) < 10 {
		t.Fatalf("only %d alerts found: %v", len(alerts), alerts)
	}
	for _, a := range alerts {
		if !fired[a] {
			t.Errorf("alert %s never fires in a unit test (prometheus/tests)", a)
		}
	}
	for _, p := range glob(t, "prometheus/rules/*.yaml") {
		if !loaded[filepath.Base(p)] {
			t.Errorf("%s is loaded by no unit test", p)
		}
	}
}

// Every dashboard panel queries something, and every query is PromQL that Prometheus accepts
// (checked by promtool as recording rules, with Grafana's $__rate_interval set to 5m).
func TestDashboards_QueriesAreValidPromQL(t *testing.T) {
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, p := range glob(t, "grafana/*.json") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Type    string `json:"type"`
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: a dashboard needs a uid and a title", p)
		}
		var titles []string
		for _, panel := range d.Panels {
			if panel.Type == "row" {
				continue
			}
			if slices.Contains(titles, panel.Title) {
				t.Errorf("%s: two panels are titled %q", p, panel.Title)
			}
			titles = append(titles, panel.Title)
			if len(panel.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", p, panel.Title)
			}
			for _, tg := range panel.Targets {
				if tg.Expr == "" {
					t.Errorf("%s: panel %q has an empty query", p, panel.Title)
				}
				rules = append(rules, rule{Record: "dashboard:query", Expr: strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m")})
			}
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard-queries", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "queries.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", path)
}

// The Kubernetes scrape configuration keeps the apps' port named "metrics" and the sidecars' port
// the Dapr injector names "dapr-metrics", labels each target with app and component as the rules
// expect, and loads the rules. (Debian's promtool is built without Kubernetes discovery, so this
// reads the file rather than running promtool check config on it.)
func TestKubernetesScrapeConfig(t *testing.T) {
	var c struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName        string `yaml:"job_name"`
			RelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Regex        string   `yaml:"regex"`
				Action       string   `yaml:"action"`
				TargetLabel  string   `yaml:"target_label"`
				Replacement  string   `yaml:"replacement"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/kubernetes.yaml", &c)
	if !slices.Contains(c.RuleFiles, "rules/*.yaml") {
		t.Errorf("rule_files %v do not load rules/*.yaml", c.RuleFiles)
	}
	want := map[string][2]string{"acme-apps": {"metrics", "app"}, "acme-sidecars": {"dapr-metrics", "daprd"}}
	for _, sc := range c.ScrapeConfigs {
		w, ok := want[sc.JobName]
		if !ok {
			continue
		}
		delete(want, sc.JobName)
		var port, component, app bool
		for _, r := range sc.RelabelConfigs {
			port = port || r.Action == "keep" && r.Regex == w[0] && slices.Equal(r.SourceLabels, []string{"__meta_kubernetes_pod_container_port_name"})
			component = component || r.TargetLabel == "component" && r.Replacement == w[1]
			app = app || r.TargetLabel == "app" && slices.Equal(r.SourceLabels, []string{"__meta_kubernetes_pod_label_app_kubernetes_io_name"})
		}
		if !port || !component || !app {
			t.Errorf("job %s: keeps port %q %v, labels component=%s %v, labels app %v", sc.JobName, w[0], port, w[1], component, app)
		}
	}
	if len(want) > 0 {
		t.Errorf("no scrape job for %v", want)
	}
}
