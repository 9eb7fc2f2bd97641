// Command configs writes each app's sidecar Configuration, with its secret scopes, into
// components/local and components/kubernetes (make configs). Run it from the repository root.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/acme/platform/deploy/local/secretscopes"
)

func main() {
	d, err := secretscopes.Load(".")
	if err == nil {
		var files map[string][]byte
		if files, err = d.Files("."); err == nil {
			var paths []string
			for p := range files {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			for _, p := range paths {
				if err = os.WriteFile(p, files[p], 0o644); err != nil {
					break
				}
				fmt.Println("wrote", p)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
