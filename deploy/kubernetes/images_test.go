package kubernetes

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// apps are the app ids of dapr.yaml, the topology every way of running starts from.
func apps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Apps []struct {
			AppID string `yaml:"appID"`
		} `yaml:"apps"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range rf.Apps {
		ids = append(ids, a.AppID)
	}
	if len(ids) < 8 {
		t.Fatalf("dapr.yaml names %d apps: %v", len(ids), ids)
	}
	return ids
}

var instruction = regexp.MustCompile(`^(FROM|USER|RUN|ENTRYPOINT|ARG)\s+(.*)$`)

// dockerfile is what the rules below read of a Dockerfile: its stages' bases, and the last stage's
// users and entrypoint; the go build command and the build arguments of any stage.
type dockerfile struct {
	froms, users, entry, args []string
	build                     string
}

func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	// Continuation lines joined, then one instruction per line.
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		m := instruction.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		switch m[1] {
		case "FROM":
			d.froms, d.users, d.entry = append(d.froms, m[2]), nil, nil // USER and ENTRYPOINT count in the last stage
		case "USER":
			d.users = append(d.users, m[2])
		case "ENTRYPOINT":
			d.entry = append(d.entry, m[2])
		case "ARG":
			d.args = append(d.args, m[2])
		case "RUN":
			if strings.Contains(m[2], "go build") {
				d.build = m[2]
			}
		}
	}
	return d
}

// checkImage holds a Dockerfile to the platform's rules: a build stage and a distroless (or scratch)
// runtime stage that runs as a non-root user with one entrypoint.
func checkImage(t *testing.T, path string, d dockerfile) {
	t.Helper()
	if len(d.froms) < 2 {
		t.Errorf("%s: %d stages, want a build stage and a runtime stage", path, len(d.froms))
		return
	}
	if final := d.froms[len(d.froms)-1]; !strings.HasPrefix(final, "gcr.io/distroless/") && final != "scratch" {
		t.Errorf("%s: final stage %q, want distroless or scratch", path, final)
	}
	if len(d.users) == 0 || slices.ContainsFunc(d.users, func(u string) bool { return u == "root" || strings.HasPrefix(u, "0") }) {
		t.Errorf("%s: final stage runs as %v, want a non-root user", path, d.users)
	}
	if len(d.entry) != 1 {
		t.Errorf("%s: entrypoints %v, want one", path, d.entry)
	}
}

// Every app of dapr.yaml has an image recipe: services/Dockerfile builds each Go service (a static
// build of ./services/$APP), and an app with its own services/<app>/Dockerfile (one in another
// language) uses that; every recipe follows the same rules; no recipe is left for an app that is
// gone; and each Deployment runs its app's image.
func TestImages_EveryAppHasADockerfile(t *testing.T) {
	ids := apps(t)
	shared := readDockerfile(t, "../../services/Dockerfile")
	checkImage(t, "services/Dockerfile", shared)
	if !slices.Contains(shared.args, "APP") || !strings.Contains(shared.build, "CGO_ENABLED=0") ||
		!strings.HasSuffix(strings.TrimSpace(shared.build), "./services/${APP}") {
		t.Errorf("services/Dockerfile: args %v, build %q; want ARG APP and a static (CGO_ENABLED=0) build of ./services/${APP}", shared.args, shared.build)
	}
	own, _ := filepath.Glob("../../services/*/Dockerfile")
	for _, p := range own {
		if app := filepath.Base(filepath.Dir(p)); !slices.Contains(ids, app) {
			t.Errorf("%s builds %s, which dapr.yaml does not run", p, app)
		}
	}
	for _, app := range ids {
		if p := "../../services/" + app + "/Dockerfile"; slices.Contains(own, p) {
			checkImage(t, p, readDockerfile(t, p))
		} else if _, err := os.Stat("../../services/" + app + "/main.go"); err != nil {
			t.Errorf("%s is no Go service (%v) and has no services/%s/Dockerfile", app, err, app)
		}
		manifest, err := os.ReadFile("base/" + app + ".yaml")
		if err != nil || !strings.Contains(string(manifest), "image: acme/"+app+":") {
			t.Errorf("base/%s.yaml does not run image acme/%s (%v)", app, app, err)
		}
	}
}

// The Dockerfiles' build works: each app builds here with CGO_ENABLED=0, into a binary with no
// dynamic loader, so it runs on a distroless static (or scratch) base.
func TestImages_AppsBuildStatically(t *testing.T) {
	ids := apps(t)
	out := t.TempDir()
	args := []string{"build", "-trimpath", "-o", out + "/"}
	for _, app := range ids {
		args = append(args, "./services/"+app)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	for _, app := range ids {
		f, err := elf.Open(filepath.Join(out, app))
		if err != nil {
			t.Errorf("%s: %v", app, err)
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", app)
			}
		}
		f.Close()
	}
}
