// Package kubernetes holds the manifests; its test checks what kustomize cannot: that every secret
// the apps read is filled, per environment, from that environment's secret manager.
package kubernetes

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func read(t *testing.T, pattern string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(b)
	}
	return out
}

var (
	secretKeyRef  = regexp.MustCompile(`secretKeyRef: \{name: ([a-z0-9-]+)`)
	resourceNames = regexp.MustCompile(`resourceNames: \[([a-z0-9, -]+)\]`)
	externalName  = regexp.MustCompile(`(?m)^kind: ExternalSecret\nmetadata:\n  name: ([a-z0-9-]+)`)
)

// Every Kubernetes secret a workload reads (as an environment variable, or through the Dapr secret
// store, which the apps' Roles name) is an ExternalSecret of the environment-secrets component.
func TestEverySecretReadComesFromTheEnvironmentsSecretManager(t *testing.T) {
	read1 := map[string]string{}
	for path, s := range read(t, "base/*.yaml") {
		for _, m := range secretKeyRef.FindAllStringSubmatch(s, -1) {
			read1[m[1]] = path
		}
		for _, m := range resourceNames.FindAllStringSubmatch(s, -1) {
			for _, n := range strings.Split(m[1], ",") {
				read1[strings.TrimSpace(n)] = path
			}
		}
	}
	var external []string
	for _, s := range read(t, "components/environment-secrets/externalsecrets.yaml") {
		for _, m := range externalName.FindAllStringSubmatch(s, -1) {
			external = append(external, m[1])
		}
	}
	if len(read1) < 8 {
		t.Fatalf("only %d secrets found read in base: %v", len(read1), read1)
	}
	for name, path := range read1 {
		if !slices.Contains(external, name) {
			t.Errorf("%s reads secret %s, which no ExternalSecret fills", path, name)
		}
	}
}

// Every overlay uses the component and names its environment, so its remote keys are its own.
func TestEveryOverlayNamesItsEnvironment(t *testing.T) {
	for path, s := range read(t, "overlays/*/kustomization.yaml") {
		env := filepath.Base(filepath.Dir(path))
		if !strings.Contains(s, "../../components/environment-secrets") {
			t.Errorf("%s does not use the environment-secrets component", path)
		}
		if !strings.Contains(s, "ACME_ENVIRONMENT="+env+"\n") {
			t.Errorf("%s does not set ACME_ENVIRONMENT=%s", path, env)
		}
		if !strings.Contains(s, "value: acme-files-"+env+"}") {
			t.Errorf("%s does not give files its own bucket", path)
		}
	}
}
