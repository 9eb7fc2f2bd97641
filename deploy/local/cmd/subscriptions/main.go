// Command subscriptions writes components/local/subscriptions.yaml and
// components/kubernetes/subscriptions.yaml from contracts/consumers/consumers.yaml (make
// subscriptions). Run it from the repository root.
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
}
