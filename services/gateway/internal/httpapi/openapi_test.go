package httpapi

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/acme/platform/contracts/openapi"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("contracts/openapi/acme.yaml is not a valid document: %v", err)
	}
	return doc
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// The gateway serves exactly the routes of the contract: a route added to either side alone fails.
func TestRoutes_MatchTheOpenAPIContract(t *testing.T) {
	doc := loadSpec(t)
	var spec, served []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec = append(spec, method+" "+path)
		}
	}
	for _, r := range (&API{}).Engine().Routes() {
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(spec)
	sort.Strings(served)
	if strings.Join(spec, "\n") != strings.Join(served, "\n") {
		t.Fatalf("routes differ\ncontract:\n  %s\ngateway:\n  %s", strings.Join(spec, "\n  "), strings.Join(served, "\n  "))
	}
}

// Every operation documents its error answers with the one error body.
func TestContract_EveryErrorUsesTheErrorBody(t *testing.T) {
	doc := loadSpec(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if code[0] != '4' && !(code[0] == '5' && strings.HasPrefix(path, "/v1")) {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ErrorBody" {
					t.Errorf("%s %s %s: not the ErrorBody", method, path, code)
				}
			}
		}
	}
}
