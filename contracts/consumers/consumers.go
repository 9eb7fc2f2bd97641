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

// Declaration is consumers.yaml: consuming apps in the file's order, each with its topics, and the
// publishing apps with theirs.
type Declaration struct {
	Apps       []App
	Publishers []App
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
		Apps       yaml.Node `yaml:"apps"`
		Publishers yaml.Node `yaml:"publishers"`
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
	for i := 0; i+1 < len(doc.Publishers.Content); i += 2 {
		a := App{Name: doc.Publishers.Content[i].Value}
		if err := doc.Publishers.Content[i+1].Decode(&a.Topics); err != nil || a.Name == "" || len(a.Topics) == 0 {
			return Declaration{}, fmt.Errorf("consumers.yaml: publisher %q: %v", a.Name, err)
		}
		d.Publishers = append(d.Publishers, a)
	}
	return d, nil
}

// With is the declaration with one more consumer (a test's own sink).
func (d Declaration) With(app string, topics ...string) Declaration {
	d.Apps = append(slices.Clone(d.Apps), App{Name: app, Topics: topics})
	return d
}

// scopeApps are the apps of the scopes in a fixed order: consumers, then publishers not already listed.
func (d Declaration) scopeApps() []string {
	var names []string
	for _, a := range append(slices.Clone(d.Apps), d.Publishers...) {
		if !slices.Contains(names, a.Name) {
			names = append(names, a.Name)
		}
	}
	return names
}

func topicsOf(apps []App, name string) []string {
	for _, a := range apps {
		if a.Name == name {
			return a.Topics
		}
	}
	return nil
}

// PublishingScopes is the pub/sub component's publishingScopes: each app may publish the topics it
// declares and the dead letters of its subscriptions (daprd publishes those on its behalf).
func (d Declaration) PublishingScopes() string {
	var parts []string
	for _, name := range d.scopeApps() {
		topics := slices.Clone(topicsOf(d.Publishers, name))
		for _, t := range topicsOf(d.Apps, name) {
			topics = append(topics, DeadLetterTopic(t, name))
		}
		parts = append(parts, name+"="+strings.Join(topics, ","))
	}
	return strings.Join(parts, ";")
}

// SubscriptionScopes is the component's subscriptionScopes: each app may subscribe to what it
// consumes and its own dead letters, and an app that consumes nothing to nothing.
func (d Declaration) SubscriptionScopes() string {
	var parts []string
	for _, name := range d.scopeApps() {
		var topics []string
		for _, t := range topicsOf(d.Apps, name) {
			topics = append(topics, t, DeadLetterTopic(t, name))
		}
		parts = append(parts, name+"="+strings.Join(topics, ","))
	}
	return strings.Join(parts, ";")
}

// ProtectedTopics are the platform's topics: only apps scoped to them may use them, which also
// covers an app missing from the scopes.
func (d Declaration) ProtectedTopics() string {
	var topics []string
	for _, a := range append(slices.Clone(d.Apps), d.Publishers...) {
		for _, t := range a.Topics {
			for _, x := range []string{t, DeadLetterTopic(t, a.Name)} {
				if !slices.Contains(topics, x) && (x == t || slices.Contains(topicsOf(d.Apps, a.Name), t)) {
					topics = append(topics, x)
				}
			}
		}
	}
	slices.Sort(topics)
	return strings.Join(topics, ",")
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

// Scope block markers in components/*/pubsub.yaml: make subscriptions writes what lies between.
const (
	scopesBegin = "    # BEGIN scopes generated from contracts/consumers/consumers.yaml by `make subscriptions`; do not edit.\n"
	scopesEnd   = "    # END generated scopes\n"
)

// ScopesBlock is the pub/sub component's generated scope metadata.
func (d Declaration) ScopesBlock() string {
	return scopesBegin +
		"    - name: publishingScopes\n      value: \"" + d.PublishingScopes() + "\"\n" +
		"    - name: subscriptionScopes\n      value: \"" + d.SubscriptionScopes() + "\"\n" +
		"    - name: protectedTopics\n      value: \"" + d.ProtectedTopics() + "\"\n" +
		scopesEnd
}

// WithScopes returns a pub/sub component's YAML with its generated block replaced (or, the first
// time, added at the end of its metadata, before scopes:).
func (d Declaration) WithScopes(component string) (string, error) {
	if i := strings.Index(component, scopesBegin); i >= 0 {
		j := strings.Index(component, scopesEnd)
		if j < i {
			return "", fmt.Errorf("pubsub.yaml: the generated block has no end")
		}
		return component[:i] + d.ScopesBlock() + component[j+len(scopesEnd):], nil
	}
	// The first time: at the end of spec.metadata, before the first line that is not one of its items.
	start := strings.Index(component, "\n  metadata:\n")
	if start < 0 {
		return "", fmt.Errorf("pubsub.yaml: no spec.metadata to add the scopes to")
	}
	at := start + len("\n  metadata:\n")
	for at < len(component) && strings.HasPrefix(component[at:], "    ") {
		next := strings.IndexByte(component[at:], '\n')
		if next < 0 {
			at = len(component)
			break
		}
		at += next + 1
	}
	return component[:at] + d.ScopesBlock() + component[at:], nil
}
