package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/acme/platform/services/platform/errs"
)

func TestDecodeBytes_Cases(t *testing.T) {
	type req struct {
		Email *string `json:"email"`
		N     *int    `json:"n"`
	}
	cases := []struct {
		name, body, code, field string
	}{
		{"ok", `{"email":"a@b.co","n":1}`, "", ""},
		{"ok with spaces", "  \n{\"email\":\"a\"}\n ", "", ""},
		{"empty", ``, "request.malformed_json", ""},
		{"array", `[1]`, "request.malformed_json", ""},
		{"string", `"x"`, "request.malformed_json", ""},
		{"truncated", `{"email":`, "request.malformed_json", ""},
		{"trailing object", `{} {}`, "request.malformed_json", ""},
		{"trailing garbage", `{}x`, "request.malformed_json", ""},
		{"unknown field", `{"admin":true}`, "request.unknown_field", "admin"},
		{"wrong type string", `{"email":1}`, "request.invalid_type", "email"},
		{"wrong type number", `{"n":"1"}`, "request.invalid_type", "n"},
		{"invalid utf8", "{\"email\":\"\xff\"}", "request.malformed_json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r req
			err := decodeBytes([]byte(tc.body), &r)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field || e.Kind != errs.KindInvalid {
				t.Fatalf("got %v (%+v), want %s/%s", err, e, tc.code, tc.field)
			}
		})
	}
}

// FuzzDecodeJSON: whatever the body, decoding either succeeds or fails with a request.* error of kind
// invalid — never a panic, never another kind (which would turn into a 500).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co","password":"p","display_name":"d","region":"us"}`, `{`, `[]`, `{"email":1}`,
		`{"x":1}`, `{} {}`, "{\"email\":\"\xff\"}", `{"email":null}`, `{"email":"a","email":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r registerRequest
		err := decodeBytes(body, &r)
		if err == nil {
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.KindInvalid || !strings.HasPrefix(e.Code, "request.") || e.Message == "" {
			t.Fatalf("body %q: error %v", body, err)
		}
	})
}
