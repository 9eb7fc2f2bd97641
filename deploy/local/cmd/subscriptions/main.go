// Command subscriptions writes components/local/subscriptions.yaml and
// components/kubernetes/subscriptions.yaml, and the scopes of both pubsub.yaml, from
// contracts/consumers/consumers.yaml (make subscriptions). Run it from the repository root.
package main

import (
	"fmt"
	"os"

	"github.com/acme/platform/contracts/consumers"
)

func main() {
	d, err := consumers.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := []byte(d.Subscriptions("pubsub"))
	for _, path := range []string{"components/local/subscriptions.yaml", "components/kubernetes/subscriptions.yaml"} {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
	for _, path := range []string{"components/local/pubsub.yaml", "components/kubernetes/pubsub.yaml"} {
		b, err := os.ReadFile(path)
		if err == nil {
			var s string
			if s, err = d.WithScopes(string(b)); err == nil {
				err = os.WriteFile(path, []byte(s), 0o644)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote the scopes of", path)
	}
}
