package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/acme/platform/contracts/openapi"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func contractRouter() (routers.Router, error) {
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
		if err != nil {
			specErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: env.gatewayURL}}
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	return specRouter, specErr
}

// checkContract fails the test when the answer to a documented route does not match the contract:
// an undocumented status, a body of the wrong shape, a missing or extra field.
func checkContract(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := contractErr(req, status, header, body); err != nil {
		t.Fatalf("%s %s answered %d, which breaks contracts/openapi/acme.yaml: %v\nbody: %s", req.Method, req.URL.Path, status, err, body)
	}
}

func contractErr(req *http.Request, status int, header http.Header, body []byte) error {
	router, err := contractRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil // not a documented route (the tests of unknown routes send these on purpose)
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// The check above is not a formality: it refuses answers that break the contract.
func TestContractCheck_CatchesViolations(t *testing.T) {
	me, _ := http.NewRequest("GET", env.gatewayURL+"/v1/users/me", nil)
	h := http.Header{"Content-Type": []string{"application/json"}}
	good := `{"user":{"id":"3f0c2a7e-1d2b-4c5d-8e9f-0a1b2c3d4e5f","email":"a@example.com","display_name":"A","region":"eu","roles":["member"],"created_at":"2026-01-01T00:00:00Z","email_verified":false}}`
	if err := contractErr(me, 200, h, []byte(good)); err != nil {
		t.Fatalf("a conforming answer was refused: %v", err)
	}
	for name, c := range map[string]struct {
		status int
		body   string
	}{
		"undocumented status": {418, `{"error":{"code":"x","message":"m","request_id":"r"}}`},
		"missing field":       {200, `{"user":{"id":"3f0c2a7e-1d2b-4c5d-8e9f-0a1b2c3d4e5f","display_name":"A","region":"eu","roles":[],"created_at":"2026-01-01T00:00:00Z"}}`},
		"wrong type":          {200, strings.Replace(good, `"roles":["member"]`, `"roles":"member"`, 1)},
		"extra field":         {200, strings.Replace(good, `"region":"eu"`, `"region":"eu","password_hash":"x"`, 1)},
		"bad enum":            {200, strings.Replace(good, `"region":"eu"`, `"region":"mars"`, 1)},
		"error without code":  {401, `{"error":{"message":"m","request_id":"r"}}`},
	} {
		if err := contractErr(me, c.status, h, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
