package consumers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var root = filepath.Join("..", "..")

// The Subscription resources of both environments are what the declaration renders: adding a
// consumer is one line in consumers.yaml and `make subscriptions`.
func TestSubscriptions_AreGeneratedFromTheDeclaration(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := d.Subscriptions("pubsub")
	for _, env := range []string{"local", "kubernetes"} {
		got, err := os.ReadFile(filepath.Join(root, "components", env, "subscriptions.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("components/%s/subscriptions.yaml is not what contracts/consumers/consumers.yaml renders; run make subscriptions", env)
		}
	}
}

// The pub/sub component of both environments carries the scopes the declaration renders.
func TestPubsubScopes_AreGeneratedFromTheDeclaration(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"local", "kubernetes"} {
		got, err := os.ReadFile(filepath.Join(root, "components", env, "pubsub.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := d.WithScopes(string(got))
		if err != nil || string(got) != want || !strings.Contains(string(got), "publishingScopes") {
			t.Errorf("components/%s/pubsub.yaml lacks the scopes contracts/consumers/consumers.yaml renders; run make subscriptions (%v)", env, err)
		}
	}
	// users publishes user events; search may not, and consumes nothing it did not declare.
	pub := d.PublishingScopes()
	if !strings.Contains(pub, "users=acme.users.events,") || strings.Contains(pub, "search=acme.users.events,") {
		t.Fatalf("publishing scopes %s", pub)
	}
}

// Every declared consumer is an app of dapr.yaml (and so of the Kubernetes base), and every
// subscription has a dead-letter topic that the same app consumes.
func TestDeclaration_NamesRealAppsAndEveryTopicHasItsDeadLetters(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Apps []struct {
			AppID string `yaml:"appID"`
		} `yaml:"apps"`
	}
	b, err := os.ReadFile(filepath.Join(root, "dapr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, a := range run.Apps {
		apps = append(apps, a.AppID)
	}
	for _, name := range d.Names() {
		if !slices.Contains(apps, name) {
			t.Errorf("consumers.yaml names %s, which dapr.yaml does not run", name)
		}
	}
	rendered := d.Subscriptions("pubsub")
	for _, a := range d.Apps {
		for _, topic := range a.Topics {
			dl := DeadLetterTopic(topic, a.Name)
			if !strings.Contains(rendered, "deadLetterTopic: "+dl+"\n") || !strings.Contains(rendered, "  topic: "+dl+"\n") {
				t.Errorf("%s on %s: dead-letter topic %s is not both named and consumed", a.Name, topic, dl)
			}
		}
	}
}

func TestParse_RefusesWhatCannotBeMeant(t *testing.T) {
	for name, doc := range map[string]string{
		"no apps mapping":   "apps: [audit]",
		"an app with none":  "apps:\n  audit: []",
		"a topic twice":     "apps:\n  audit: [acme.audit.log, acme.audit.log]",
		"an empty topic":    "apps:\n  audit: ['']",
		"not yaml":          "apps: {",
		"topics not a list": "apps:\n  audit: acme.audit.log",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := Parse([]byte("apps:\n  b: [t2, t1]\n  a: [t3]"))
	if err != nil || !slices.Equal(d.Names(), []string{"b", "a"}) || !slices.Equal(d.Topics("b"), []string{"t2", "t1"}) || d.Topics("c") != nil {
		t.Fatalf("order not kept: %+v %v", d, err)
	}
}
