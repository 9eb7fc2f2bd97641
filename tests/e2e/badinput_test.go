package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/acme/platform/contracts/openapi"
)

// Every operation of the contract that takes a JSON body refuses malformed bodies the same way,
// signed in or not, before doing anything: the route-specific tests cover the fields. Unknown fields
// are refused wherever the contract closes the body (additionalProperties: false).
func TestBadInput_EveryJSONRouteRefusesMalformedBodies(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, "badinput")
	p, _ := a.createProject(t, map[string]any{"name": "Bad Bodies"})
	bodies := []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"malformed", `{"a":`, "application/json", 400, "request.malformed_json"},
		{"not an object", `[1,2]`, "application/json", 400, "request.malformed_json"},
		{"trailing data", `{} x`, "application/json", 400, "request.malformed_json"},
		{"unknown field", `{"definitely_not_a_field":1}`, "application/json", 400, "request.unknown_field"},
		{"wrong content type", `{}`, "text/plain", 415, "request.unsupported_media_type"},
		{"oversized", `{"x":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413, "request.too_large"},
	}
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
				continue // no body, or a file upload (its own tests cover it)
			}
			concrete := strings.NewReplacer("{id}", p.ID, "{user_id}", a.ID).Replace(path)
			checked++
			// An open body (Stripe's events: their fields are Stripe's to add) has no unknown field.
			schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			closed := schema.AdditionalProperties.Has != nil && !*schema.AdditionalProperties.Has
			for _, b := range bodies {
				if b.code == "request.unknown_field" && !closed {
					continue
				}
				h := bearer(a.token)
				h["Content-Type"] = b.ctype
				h["If-Match"] = `"1"`
				r := request(t, method, concrete, b.body, h)
				if r.Status != b.status {
					t.Errorf("%s %s with %s: %d, want %d; %s", method, path, b.name, r.Status, b.status, r.Body)
					continue
				}
				r.expectError(t, b.status, b.code)
			}
		}
	}
	if checked < 12 {
		t.Fatalf("only %d operations with a body in the contract", checked)
	}
	// None of it changed the project.
	var after struct{ Project project }
	a.do(t, "GET", "/v1/projects/"+p.ID, nil).expect(t, http.StatusOK).decode(t, &after)
	if after.Project.Version != 1 {
		t.Fatalf("version %d", after.Project.Version)
	}
}
