package kubernetes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// object is the part of a rendered Kubernetes object these tests read.
// object is the part of a rendered Kubernetes object these tests read, whatever its kind: a
// Deployment's pod template, an autoscaler's bounds, a NetworkPolicy's selector and egress, a Role's
// resource names, a Dapr Component's type, fields and scopes, a Configuration's sampling rate, a
// ConfigMap's data.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Type     string    `yaml:"type"`     // a Dapr Component's
		Metadata yaml.Node `yaml:"metadata"` // a Dapr Component's fields (other kinds hold a map here)
		Tracing  struct {
			SamplingRate string `yaml:"samplingRate"`
		} `yaml:"tracing"` // a Dapr Configuration's
		MinReplicas    int `yaml:"minReplicas"`
		MaxReplicas    int `yaml:"maxReplicas"`
		ScaleTargetRef struct {
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		Replicas    *int     `yaml:"replicas"`
		PolicyTypes []string `yaml:"policyTypes"`
		PodSelector struct {
			MatchLabels      map[string]string `yaml:"matchLabels"`
			MatchExpressions []struct {
				Key      string   `yaml:"key"`
				Operator string   `yaml:"operator"`
				Values   []string `yaml:"values"`
			} `yaml:"matchExpressions"`
		} `yaml:"podSelector"`
		Egress []struct {
			Ports []struct {
				Port int `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"egress"`
		Template struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				TopologySpreadConstraints []struct {
					TopologyKey       string `yaml:"topologyKey"`
					WhenUnsatisfiable string `yaml:"whenUnsatisfiable"`
				} `yaml:"topologySpreadConstraints"`
				Containers []struct {
					Name  string `yaml:"name"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name      string         `yaml:"name"`
						Value     *string        `yaml:"value"`
						ValueFrom map[string]any `yaml:"valueFrom"`
					} `yaml:"env"`
					Resources struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	Rules []struct {
		ResourceNames []string `yaml:"resourceNames"`
	} `yaml:"rules"` // a Role's
	Scopes []string          `yaml:"scopes"`
	Data   map[string]string `yaml:"data"` // a ConfigMap's
}

type field struct {
	Name         string         `yaml:"name"`
	Value        any            `yaml:"value"`
	SecretKeyRef map[string]any `yaml:"secretKeyRef"`
}

// fields are a Dapr Component's metadata fields (none for other kinds).
func (o object) fields(t *testing.T) []field {
	t.Helper()
	if o.Kind != "Component" {
		return nil
	}
	var fs []field
	if err := o.Spec.Metadata.Decode(&fs); err != nil {
		t.Fatalf("component %s: %v", o.Metadata.Name, err)
	}
	return fs
}

// kustomize is make tools' kustomize (KUSTOMIZE, or the cache's).
func kustomize(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("KUSTOMIZE"), filepath.Join(os.Getenv("ACME_CACHE"), "tools/kustomize"),
		filepath.Join(os.Getenv("HOME"), ".cache/acme-platform/tools/kustomize")} {
		if p != "" && p != "tools/kustomize" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("kustomize"); err == nil {
		return p
	}
	t.Fatal("kustomize not found: make tools builds it")
	return ""
}

// decodeAll decodes every YAML document of text into a T; where says what text is, for errors.
func decodeAll[T any](t *testing.T, where, text string) []T {
	t.Helper()
	var out []T
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var v T
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		out = append(out, v)
	}
}

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// build renders an overlay with kustomize, once per test binary (the tests read the same renders).
func build(t *testing.T, overlay string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if text, ok := built[overlay]; ok {
		return text
	}
	out, err := exec.Command(kustomize(t), "build", "overlays/"+overlay).Output()
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", overlay, err)
	}
	built[overlay] = string(out)
	return string(out)
}

// render builds an overlay and decodes every object in it.
func render(t *testing.T, overlay string) ([]object, string) {
	t.Helper()
	text := build(t, overlay)
	return decodeAll[object](t, "overlays/"+overlay, text), text
}

func overlays(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob("overlays/*/kustomization.yaml")
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	if len(names) < 4 {
		t.Fatalf("overlays: %v", names)
	}
	return names
}

// In every overlay, the Deployments with a sidecar are exactly dapr.yaml's apps, each once, under
// its own app id and its own Configuration, each with its metrics where Prometheus scrapes them.
func TestOverlays_DeploymentsAreTheAppsOfDaprYAML(t *testing.T) {
	ids := apps(t)
	for _, overlay := range overlays(t) {
		objs, _ := render(t, overlay)
		settings := map[string]string{}
		for _, o := range objs {
			if o.Kind == "ConfigMap" && strings.HasPrefix(o.Metadata.Name, "acme-settings") {
				settings = o.Data
			}
		}
		var found []string
		for _, o := range objs {
			a := o.Spec.Template.Metadata.Annotations
			if o.Kind != "Deployment" || a["dapr.io/enabled"] != "true" {
				continue
			}
			id := a["dapr.io/app-id"]
			// Its metrics: a port named "metrics" (what Prometheus keeps) on the app's container, at
			// APP_METRICS_PORT, served on the pod's IP.
			app := o.Spec.Template.Spec.Containers[0]
			metrics, podIP := false, false
			for _, p := range app.Ports {
				metrics = metrics || p.Name == "metrics" && p.ContainerPort == 9091
			}
			for _, e := range app.Env {
				podIP = podIP || e.Name == "METRICS_LISTEN_HOST" && strings.Contains(fmt.Sprint(e.ValueFrom), "status.podIP")
			}
			if !metrics || !podIP || settings["APP_METRICS_PORT"] != "9091" {
				t.Errorf("%s: %s serves no metrics where Prometheus looks (port named metrics %v, on the pod IP %v, APP_METRICS_PORT %q)",
					overlay, o.Metadata.Name, metrics, podIP, settings["APP_METRICS_PORT"])
			}
			if id != o.Metadata.Name || a["dapr.io/config"] != "acme-"+id {
				t.Errorf("%s: Deployment %s has app id %q and configuration %q", overlay, o.Metadata.Name, id, a["dapr.io/config"])
			}
			found = append(found, id)
		}
		slices.Sort(found)
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(found, want) {
			t.Errorf("%s: Deployments with a sidecar %v, want dapr.yaml's %v", overlay, found, want)
		}
	}
}

// Every component the apps use locally exists on Kubernetes under the same name, of the same kind
// of building block, scoped to the same apps; and Kubernetes has none the apps do not use.
func TestComponents_KubernetesMatchesLocal(t *testing.T) {
	read := func(dir string) map[string]object {
		out := map[string]object{}
		paths, _ := filepath.Glob(dir + "/*.yaml")
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range decodeAll[object](t, p, string(b)) {
				if o.Kind == "Component" {
					out[o.Metadata.Name] = o
				}
			}
		}
		return out
	}
	local, k8s := read("../../components/local"), read("../../components/kubernetes")
	if len(local) < 5 {
		t.Fatalf("only %d local components", len(local))
	}
	block := func(typ string) string { b, _, _ := strings.Cut(typ, "."); return b }
	for name, l := range local {
		k, ok := k8s[name]
		if !ok {
			t.Errorf("component %s (%s) has no Kubernetes counterpart", name, l.Spec.Type)
			continue
		}
		if block(k.Spec.Type) != block(l.Spec.Type) {
			t.Errorf("component %s is %s locally and %s on Kubernetes", name, l.Spec.Type, k.Spec.Type)
		}
		ls, ks := slices.Sorted(slices.Values(l.Scopes)), slices.Sorted(slices.Values(k.Scopes))
		if len(ks) == 0 || !slices.Equal(ls, ks) {
			t.Errorf("component %s is scoped to %v locally and %v on Kubernetes", name, ls, ks)
		}
	}
	for name := range k8s {
		if _, ok := local[name]; !ok {
			t.Errorf("Kubernetes component %s is not used locally", name)
		}
	}
}

var secretish = regexp.MustCompile(`(?i)(password|secret|token|api[_-]?key|access[_-]?key|private|credential|dsn|database_url|connectionstring)`)

// No secret sits in a plain value: every environment variable and component field whose name says
// secret comes from a Secret (valueFrom, secretKeyRef), in every overlay.
func TestOverlays_NoSecretInPlainValues(t *testing.T) {
	for _, overlay := range overlays(t) {
		objs, _ := render(t, overlay)
		for _, o := range objs {
			for _, c := range o.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if secretish.MatchString(e.Name) && e.Value != nil {
						t.Errorf("%s: %s %s, container %s: %s has a plain value", overlay, o.Kind, o.Metadata.Name, c.Name, e.Name)
					}
				}
			}
			for _, m := range o.fields(t) {
				if secretish.MatchString(m.Name) && m.Value != nil {
					t.Errorf("%s: %s %s: %s has a plain value", overlay, o.Kind, o.Metadata.Name, m.Name)
				}
			}
			if o.Kind == "ConfigMap" {
				for k := range o.Data {
					if secretish.MatchString(k) {
						t.Errorf("%s: ConfigMap %s holds %s", overlay, o.Metadata.Name, k)
					}
				}
			}
		}
	}
}

var awsRegion = regexp.MustCompile(`\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b`)

// Each environment's data stays in its region: every AWS region named in the rendered overlay is
// the one of its secret manager (so prod-eu-west keeps EU users' data, their mail and their audit
// archive in eu-west-1), and every bucket is the environment's own.
func TestOverlays_DataStaysInTheEnvironmentsRegion(t *testing.T) {
	home := map[string]string{"dev": "us-east-1", "staging": "us-east-1", "prod-us-east": "us-east-1", "prod-eu-west": "eu-west-1"}
	for _, overlay := range overlays(t) {
		want, ok := home[overlay]
		if !ok {
			t.Errorf("overlay %s has no home region in this test", overlay)
			continue
		}
		objs, text := render(t, overlay)
		regions := awsRegion.FindAllString(text, -1)
		if len(regions) < 4 { // secret manager, S3_REGION, audit archive, SES
			t.Errorf("%s names only %d regions: %v", overlay, len(regions), regions)
		}
		for _, r := range regions {
			if r != want {
				t.Errorf("%s names region %s; its data belongs in %s", overlay, r, want)
			}
		}
		buckets := 0
		for _, o := range objs {
			for _, m := range o.fields(t) {
				if v, ok := m.Value.(string); ok && m.Name == "bucket" {
					buckets++
					if !strings.HasSuffix(v, "-"+overlay) {
						t.Errorf("%s: component %s writes to bucket %s, not the environment's own", overlay, o.Metadata.Name, v)
					}
				}
			}
			for _, c := range o.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if strings.HasSuffix(e.Name, "_BUCKET") && e.Value != nil {
						buckets++
						if !strings.HasSuffix(*e.Value, "-"+overlay) {
							t.Errorf("%s: %s writes to bucket %s, not the environment's own", overlay, o.Metadata.Name, *e.Value)
						}
					}
				}
			}
			if o.Kind == "ConfigMap" && o.Data["S3_REGION"] != "" && o.Data["S3_REGION"] != want {
				t.Errorf("%s: S3_REGION %s", overlay, o.Data["S3_REGION"])
			}
		}
		if buckets < 2 {
			t.Errorf("%s: %d buckets found, want the files bucket and the audit archive", overlay, buckets)
		}
	}
}

// The apps sample traces at the rate their sidecars do, in every overlay: a trace kept by the
// gateway is kept by every sidecar on its path, and one dropped is dropped everywhere.
func TestOverlays_AppsSampleTracesAsTheSidecarsDo(t *testing.T) {
	for _, overlay := range overlays(t) {
		var rates []string
		arg := ""
		for _, o := range decodeAll[object](t, "overlays/"+overlay, build(t, overlay)) {
			switch {
			case o.Kind == "Configuration":
				rates = append(rates, o.Spec.Tracing.SamplingRate)
			case o.Kind == "ConfigMap" && strings.HasPrefix(o.Metadata.Name, "acme-settings"):
				arg = o.Data["OTEL_TRACES_SAMPLER_ARG"]
				if o.Data["OTEL_TRACES_SAMPLER"] != "parentbased_traceidratio" {
					t.Errorf("%s: OTEL_TRACES_SAMPLER %q", overlay, o.Data["OTEL_TRACES_SAMPLER"])
				}
			}
		}
		if len(rates) < 8 {
			t.Errorf("%s: %d Configurations", overlay, len(rates))
		}
		for _, r := range rates {
			if r != arg {
				t.Errorf("%s: a sidecar samples %q, the apps %q", overlay, r, arg)
			}
		}
	}
}

// Egress is refused by default, and each backing service's port is open to exactly the apps that
// use it: Kafka to the pubsub component's scopes, Redis to the statestore's and to the Deployments
// that read REDIS_ADDR, PostgreSQL to the apps with a database (DATABASE_URL, or a *-database secret
// read through the secret store).
func TestOverlays_EgressOnlyWhereNeeded(t *testing.T) {
	ids := apps(t)
	for _, overlay := range overlays(t) {
		objs, _ := render(t, overlay)
		need := map[int][]string{}
		add := func(port int, app string) {
			if !slices.Contains(need[port], app) {
				need[port] = append(need[port], app)
			}
		}
		for _, o := range objs {
			switch {
			case o.Kind == "Component" && strings.HasPrefix(o.Spec.Type, "pubsub."):
				for _, a := range o.Scopes {
					add(9096, a)
				}
			case o.Kind == "Component" && strings.HasPrefix(o.Spec.Type, "state."):
				for _, a := range o.Scopes {
					add(6379, a)
				}
			case o.Kind == "Deployment":
				for _, e := range o.Spec.Template.Spec.Containers[0].Env {
					switch e.Name {
					case "REDIS_ADDR":
						add(6379, o.Metadata.Name)
					case "DATABASE_URL":
						add(5432, o.Metadata.Name)
					}
				}
			}
		}
		allowed := map[int][]string{}
		denyAll := false
		for _, d := range objs {
			if d.Kind == "Role" && strings.HasSuffix(d.Metadata.Name, "-secrets") {
				for _, r := range d.Rules {
					for _, n := range r.ResourceNames {
						if strings.HasSuffix(n, "-database") {
							add(5432, strings.TrimSuffix(d.Metadata.Name, "-secrets"))
						}
					}
				}
			}
			if d.Kind != "NetworkPolicy" || !slices.Contains(d.Spec.PolicyTypes, "Egress") {
				continue
			}
			sel := d.Spec.PodSelector
			everyone := len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0
			if everyone && len(d.Spec.Egress) == 0 {
				denyAll = true
			}
			var selected []string
			if everyone {
				selected = ids
			}
			for _, m := range sel.MatchExpressions {
				if m.Key == "app.kubernetes.io/name" && m.Operator == "In" {
					selected = append(selected, m.Values...)
				}
			}
			for _, e := range d.Spec.Egress {
				for _, p := range e.Ports {
					for _, a := range selected {
						if !slices.Contains(allowed[p.Port], a) {
							allowed[p.Port] = append(allowed[p.Port], a)
						}
					}
				}
			}
		}
		if !denyAll {
			t.Errorf("%s: no default-deny egress policy", overlay)
		}
		for port, name := range map[int]string{9096: "Kafka", 6379: "Redis", 5432: "PostgreSQL"} {
			n, a := slices.Sorted(slices.Values(need[port])), slices.Sorted(slices.Values(allowed[port]))
			if len(n) == 0 || !slices.Equal(n, a) {
				t.Errorf("%s: %s (%d) is used by %v and open to %v", overlay, name, port, n, a)
			}
		}
	}
}
