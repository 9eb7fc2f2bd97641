package adapters_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/projects/internal/adapters"
)

// FuzzSettingsSchema: any JSON object either validates or is refused as project.settings_invalid on
// field settings, with a message; never a panic, never another error.
func FuzzSettingsSchema(f *testing.F) {
	v, err := adapters.NewSettingsSchema()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{}`, `{"retention_days":30}`, `{"retention_days":"x"}`, `{"features":{"a":true}}`,
		`{"notifications":{"slack_webhook_url":"https://hooks.slack.com/x"}}`, `{"labels":{"a":"b"}}`, `{"x":null}`,
		`{"features":{"Bad":1}}`, `{"retention_days":1e400}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		err := v.Validate(m)
		if err == nil {
			return
		}
		e := errs.As(err)
		if e.Code != "project.settings_invalid" || e.Field != "settings" || !strings.HasPrefix(e.Message, "settings") {
			t.Fatalf("%s: %v", doc, err)
		}
	})
}

// The schema marks the credentials writeOnly; the app hides exactly those from readers.
func TestSettingsSchema_SecretsAreTheWriteOnlyProperties(t *testing.T) {
	s, err := adapters.NewSettingsSchema()
	if err != nil {
		t.Fatal(err)
	}
	got := s.Secrets()
	if len(got) != 1 || strings.Join(got[0], "/") != "notifications/slack_webhook_url" {
		t.Fatalf("secrets %v", got)
	}
}
