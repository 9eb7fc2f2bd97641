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

var instruction = regexp.MustCompile(`^(FROM|USER|RUN|ENTRYPOINT|COPY)\s+(.*)$`)

// Every app of dapr.yaml has a multi-stage Dockerfile: a static build of that app, a distroless
// final stage, a non-root user, and an entrypoint; no Dockerfile is left for an app that is gone; and
// each Deployment runs its app's image.
func TestImages_EveryAppHasADockerfile(t *testing.T) {
	ids := apps(t)
	found, _ := filepath.Glob("../../services/*/Dockerfile")
	for _, p := range found {
		if app := filepath.Base(filepath.Dir(p)); !slices.Contains(ids, app) {
			t.Errorf("%s builds %s, which dapr.yaml does not run", p, app)
		}
	}
	for _, app := range ids {
		path := "../../services/" + app + "/Dockerfile"
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no Dockerfile (%v)", app, err)
			continue
		}
		// Continuation lines joined, comments dropped, then one instruction per line.
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		var froms, users, entry []string
		var build string
		for _, line := range strings.Split(text, "\n") {
			m := instruction.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			switch m[1] {
			case "FROM":
				froms, users, entry = append(froms, m[2]), nil, nil // USER and ENTRYPOINT count in the last stage
			case "USER":
				users = append(users, m[2])
			case "ENTRYPOINT":
				entry = append(entry, m[2])
			case "RUN":
				if strings.Contains(m[2], "go build") {
					build = m[2]
				}
			}
		}
		if len(froms) < 2 {
			t.Errorf("%s: %d stages, want a build stage and a runtime stage", path, len(froms))
			continue
		}
		if final := froms[len(froms)-1]; !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
			t.Errorf("%s: final stage %q, want distroless static or scratch", path, final)
		}
		if len(users) == 0 || slices.ContainsFunc(users, func(u string) bool { return u == "root" || strings.HasPrefix(u, "0") }) {
			t.Errorf("%s: final stage runs as %v, want a non-root user", path, users)
		}
		if !strings.Contains(build, "CGO_ENABLED=0") || !strings.HasSuffix(strings.TrimSpace(build), "./services/"+app) {
			t.Errorf("%s: build %q, want a static (CGO_ENABLED=0) build of ./services/%s", path, build, app)
		}
		if len(entry) != 1 || !strings.Contains(entry[0], `"/`+app+`"`) {
			t.Errorf("%s: entrypoint %v, want [\"/%s\"]", path, entry, app)
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
