// Package consumers reads consumers.yaml, the declaration of which app consumes which topic, and
// renders the Dapr Subscription resources it implies.
package consumers

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed consumers.yaml
var file []byte

// Declaration is consumers.yaml: apps in the file's order, each with its topics.
type Declaration struct {
	Apps []App
}

// App is one consuming app and the topics it consumes, in order.
type App struct {
	Name   string
	Topics []string
}

// Load parses the embedded declaration.
func Load() (Declaration, error) { return Parse(file) }

// Parse reads a declaration and checks it: app and topic names non-empty, no topic twice per app.
func Parse(b []byte) (Declaration, error) {
	var doc struct {
		Apps yaml.Node `yaml:"apps"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Declaration{}, fmt.Errorf("consumers.yaml: %w", err)
	}
	if doc.Apps.Kind != yaml.MappingNode {
		return Declaration{}, fmt.Errorf("consumers.yaml: apps is not a mapping")
	}
	var d Declaration
	for i := 0; i+1 < len(doc.Apps.Content); i += 2 {
		a := App{Name: doc.Apps.Content[i].Value}
		if err := doc.Apps.Content[i+1].Decode(&a.Topics); err != nil {
			return Declaration{}, fmt.Errorf("consumers.yaml: %s: %w", a.Name, err)
		}
		if a.Name == "" || len(a.Topics) == 0 {
			return Declaration{}, fmt.Errorf("consumers.yaml: app %q consumes nothing", a.Name)
		}
		for j, t := range a.Topics {
			if t == "" || slices.Contains(a.Topics[:j], t) {
				return Declaration{}, fmt.Errorf("consumers.yaml: %s: topic %q empty or listed twice", a.Name, t)
			}
		}
		d.Apps = append(d.Apps, a)
	}
	return d, nil
}

// Topics is what app consumes (nil for an app that consumes nothing).
func (d Declaration) Topics(app string) []string {
	for _, a := range d.Apps {
		if a.Name == app {
			return a.Topics
		}
	}
	return nil
}

// Names lists the consuming apps.
func (d Declaration) Names() []string {
	var out []string
	for _, a := range d.Apps {
		out = append(out, a.Name)
	}
	return out
}

// DeadLetterTopic is where app's subscription to topic sends what it gives up on.
func DeadLetterTopic(topic, app string) string { return topic + ".deadletter." + app }

// Subscriptions renders the declarative Subscription resources (dapr.io/v2alpha1) of every app:
// one per consumed topic, with its dead-letter topic, and one for that dead-letter topic. Events
// travel raw (the Avro datum is the Kafka value); each route is the topic's name.
func (d Declaration) Subscriptions(pubsub string) string {
	var b strings.Builder
	b.WriteString("# Generated from contracts/consumers/consumers.yaml by `make subscriptions`; do not edit.\n")
	b.WriteString("# Each subscription names its dead-letter topic, where a message goes once the resiliency\n")
	b.WriteString("# policy's retries are spent (or at once, when the app says it can never be processed).\n")
	first := true
	sub := func(name, app, topic, deadLetter string) {
		if !first {
			b.WriteString("---\n")
		}
		first = false
		fmt.Fprintf(&b, "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: %s\nspec:\n  pubsubname: %s\n  topic: %s\n  routes:\n    default: /%s\n",
			name, pubsub, topic, topic)
		if deadLetter != "" {
			fmt.Fprintf(&b, "  deadLetterTopic: %s\n", deadLetter)
		}
		fmt.Fprintf(&b, "  metadata:\n    rawPayload: \"true\"\nscopes:\n  - %s\n", app)
	}
	for _, a := range d.Apps {
		for _, t := range a.Topics {
			short := strings.ReplaceAll(strings.TrimPrefix(t, "acme."), ".", "-")
			dl := DeadLetterTopic(t, a.Name)
			sub(a.Name+"-"+short, a.Name, t, dl)
			sub(a.Name+"-deadletters-"+short, a.Name, dl, "")
		}
	}
	return b.String()
}
