package app

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestCheckBaseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://app.acme.example":      true,
		"https://app.eu.acme.example/":  true,
		"http://localhost:3000":         true,
		"http://127.0.0.1:3000":         true,
		"http://app.acme.example":       false,
		"":                              false,
		"app.acme.example":              false,
		"https://u:p@app.acme.example":  false,
		"https://app.acme.example/?a=1": false,
		"ftp://app.acme.example":        false,
	} {
		if err := CheckBaseURL(raw); (err == nil) != ok {
			t.Errorf("CheckBaseURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

// Every Kubernetes overlay sets the address mail links point to, over https (issue 11, item 9).
func TestEveryOverlaySetsAnHTTPSBaseURL(t *testing.T) {
	overlays, _ := filepath.Glob(filepath.Join("..", "..", "..", "..", "deploy", "kubernetes", "overlays", "*", "kustomization.yaml"))
	if len(overlays) < 4 {
		t.Fatalf("found %d overlays", len(overlays))
	}
	re := regexp.MustCompile(`(?m)^\s*- APP_BASE_URL=(\S+)$`)
	for _, o := range overlays {
		b, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s sets no APP_BASE_URL", o)
			continue
		}
		if err := CheckBaseURL(string(m[1])); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
}
