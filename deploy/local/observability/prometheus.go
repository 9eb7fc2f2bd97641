package observability

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acme/platform/deploy/local/procgroup"
)

// Target is one metrics endpoint: an app's own (component "app", job acme-apps) or its sidecar's
// (component "daprd", job acme-sidecars), labelled as deploy/observability/prometheus/kubernetes.yaml
// labels them on a cluster, so the same rules and dashboard read both.
type Target struct {
	App       string
	Component string // "app" or "daprd"
	Addr      string // host:port serving /metrics
}

// PrometheusOptions shape the server.
type PrometheusOptions struct {
	// Bin is the prometheus binary ("" reads PROMETHEUS, then "prometheus": make infra installs
	// Debian's package).
	Bin string
	// Dir receives its configuration, data and prometheus.log.
	Dir string
	// Port serves the UI and the HTTP API; zero picks a free one.
	Port int
	// Targets are scraped every ScrapeInterval (default 5 s).
	Targets        []Target
	ScrapeInterval time.Duration
	// RuleFiles are alerting and recording rule files (globs), loaded as they are.
	RuleFiles []string
}

// Prometheus is a running server.
type Prometheus struct {
	// URL is its UI and HTTP API (/api/v1/query).
	URL string
	srv *procgroup.Server
}

// StartPrometheus writes prometheus.yml with a static scrape job per component and starts the server.
func StartPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.Bin == "" {
		o.Bin = os.Getenv("PROMETHEUS")
	}
	if o.Bin == "" {
		o.Bin = "prometheus"
	}
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = 5 * time.Second
	}
	if err := ports(&o.Port); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg, err := Config(o.Targets, o.ScrapeInterval, o.RuleFiles)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(o.Dir, "prometheus.yml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return nil, err
	}
	srv, err := start("prometheus", o.Bin, filepath.Join(o.Dir, "prometheus.log"), nil,
		"--config.file="+path, "--storage.tsdb.path="+filepath.Join(o.Dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", o.Port), "--storage.tsdb.retention.time=1d")
	if err != nil {
		return nil, err
	}
	p := &Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", o.Port), srv: srv}
	if err := answering(srv, p.URL+"/-/ready", time.Minute); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Config is the prometheus.yml for targets: jobs acme-apps and acme-sidecars, each target labelled
// with app, component and pod (the app id: one process per app here).
func Config(targets []Target, every time.Duration, rules []string) ([]byte, error) {
	type group struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	}
	type job struct {
		Name   string  `yaml:"job_name"`
		Static []group `yaml:"static_configs"`
	}
	jobs := []*job{{Name: "acme-apps"}, {Name: "acme-sidecars"}}
	for _, t := range targets {
		j := jobs[0]
		switch t.Component {
		case "app":
		case "daprd":
			j = jobs[1]
		default:
			return nil, fmt.Errorf("target %s: component %q is neither app nor daprd", t.Addr, t.Component)
		}
		j.Static = append(j.Static, group{Targets: []string{t.Addr}, Labels: map[string]string{"app": t.App, "component": t.Component, "pod": t.App}})
	}
	cfg := map[string]any{
		"global":         map[string]string{"scrape_interval": every.String(), "evaluation_interval": every.String()},
		"scrape_configs": jobs,
	}
	if len(rules) > 0 {
		cfg["rule_files"] = rules
	}
	return yaml.Marshal(cfg)
}

// Close stops the server.
func (p *Prometheus) Close() { p.srv.Stop(stopGrace) }

// PID is the server's process group leader.
func (p *Prometheus) PID() int { return p.srv.PID() }

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  string
}

// Query runs an instant PromQL query and returns its vector.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if _, err := getJSON(ctx, p.URL+"/api/v1/query?query="+url.QueryEscape(q), &body); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: a %s, not a vector", q, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		v, _ := r.Value[1].(string)
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Targets reports each scrape target's health as Prometheus last saw it, by job and app.
func (p *Prometheus) Targets(ctx context.Context) (map[string]string, error) {
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if _, err := getJSON(ctx, p.URL+"/api/v1/targets?state=active", &body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range body.Data.ActiveTargets {
		h := t.Health
		if t.LastError != "" {
			h += ": " + t.LastError
		}
		out[t.Labels["job"]+"/"+t.Labels["app"]] = h
	}
	return out, nil
}
