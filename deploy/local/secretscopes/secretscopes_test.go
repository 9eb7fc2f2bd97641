package secretscopes

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../../.."

// The committed Configurations are what make configs renders now.
func TestRenderedConfigurationsAreCurrent(t *testing.T) {
	d, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := d.Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale or missing (%v): run make configs", path, err)
		}
	}
}

// Every app of dapr.yaml runs with its own Configuration, and every Kubernetes Deployment names its
// own: an app on the shared template would have no secret scopes.
func TestEveryAppUsesItsOwnConfiguration(t *testing.T) {
	d, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	run, err := os.ReadFile(filepath.Join(root, "dapr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range d.AppIDs() {
		if !strings.Contains(string(run), "configFilePath: ./components/local/config-"+app+".yaml") {
			t.Errorf("dapr.yaml does not run %s with components/local/config-%s.yaml", app, app)
		}
		manifest, err := os.ReadFile(filepath.Join(root, "deploy", "kubernetes", "base", app+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(manifest), "dapr.io/config: acme-"+app+"\n") {
			t.Errorf("deploy/kubernetes/base/%s.yaml does not name the Configuration acme-%s", app, app)
		}
	}
}

func TestRender(t *testing.T) {
	d := Declaration{Apps: map[string][]string{"users": {"jwt-signing-key"}, "search": {}}}
	tmpl := []byte("kind: Configuration\nmetadata:\n  name: acme\nspec:\n  metric:\n    enabled: true\n")
	got, err := d.Render(tmpl, "users")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  name: acme-users\n", "defaultAccess: deny", `allowedSecrets: ["jwt-signing-key"]`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("%q missing from\n%s", want, got)
		}
	}
	if got, _ := d.Render(tmpl, "search"); !strings.Contains(string(got), "allowedSecrets: []") {
		t.Errorf("an app without secrets:\n%s", got)
	}
	if _, err := d.Render(tmpl, "billing"); err == nil {
		t.Error("an undeclared app rendered")
	}
}
