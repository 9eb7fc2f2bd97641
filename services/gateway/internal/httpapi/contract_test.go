package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/acme/platform/services/platform/errs"
)

// Every route the gateway serves has its contract operation, so no route escapes the edge checks.
func TestContractRules_CoverEveryRoute(t *testing.T) {
	for _, r := range (&API{}).Engine().Routes() {
		if contractRules[r.Method+" "+r.Path] == nil {
			t.Errorf("%s %s has no operation in contracts/openapi/acme.yaml", r.Method, r.Path)
		}
	}
}

func bodyErr(t *testing.T, route, body string) *errs.Error {
	t.Helper()
	op := contractRules[route]
	if op == nil || op.body == nil {
		t.Fatalf("%s has no body in the contract", route)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	err := checkObject("", op.body, obj)
	if err == nil {
		return nil
	}
	return errs.As(err)
}

// The limits, the codes and the field named come from the contract.
func TestContractRules_Body(t *testing.T) {
	const register = "POST /v1/users"
	ok := `"password":"correct horse battery","display_name":"Ada","region":"us"`
	cases := []struct {
		name, route, body, code, field string
	}{
		{"valid", register, `{"email":"a@b.co",` + ok + `}`, "", ""},
		{"required first, in the contract's order", register, `{}`, "request.field_required", "email"},
		{"null is absent", register, `{"email":null,` + ok + `}`, "request.field_required", "email"},
		{"254 characters of two bytes each fit", register, `{"email":"` + strings.Repeat("é", 254) + `",` + ok + `}`, "", ""},
		{"255 do not", register, `{"email":"` + strings.Repeat("é", 255) + `",` + ok + `}`, "request.field_too_long", "email"},
		{"a keyword's own code", register, `{"email":"a@b.co","password":"short","display_name":"Ada","region":"us"}`, "user.password_too_short", "password"},
		{"the other bound's default", register, `{"email":"a@b.co","password":"` + strings.Repeat("p", 129) + `","display_name":"Ada","region":"us"}`, "request.field_too_long", "password"},
		{"meaning is the service's", register, `{"email":"not-an-email","password":"correct horse battery","display_name":"Ada","region":"ap"}`, "", ""},
		{"too many items", "POST /v1/projects", `{"name":"x","tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 21), ",") + `]}`, "project.too_many_tags", "tags"},
		{"an item's code names the list", "POST /v1/projects", `{"name":"x","tags":["ok",""]}`, "project.tag_invalid", "tags"},
		{"optional absent", "PATCH /v1/projects/:id", `{}`, "", ""},
		{"one code for both bounds", "POST /v1/projects/:id/webhooks", `{"url":"https://example.com","event_types":[]}`, "webhook.event_types_invalid", "event_types"},
		{"nested objects", "PUT /v1/users/me/notification-preferences", `{"preferences":[{"channel":"email","event_type":"x"}]}`, "request.field_required", "preferences[0].enabled"},
		{"nested lengths", "PUT /v1/users/me/notification-preferences", `{"preferences":[{"channel":"email","event_type":"` + strings.Repeat("e", 65) + `","enabled":true}]}`, "request.field_too_long", "preferences[0].event_type"},
		// Found by schemathesis: a null item reached the handler, which read its fields (500).
		{"a null item", "PUT /v1/users/me/notification-preferences", `{"preferences":[null]}`, "request.field_required", "preferences[0]"},
		{"a null string item", "POST /v1/projects", `{"name":"x","tags":["a",null]}`, "request.field_required", "tags[1]"},
		{"settings stay the service's", "POST /v1/projects", `{"name":"x","settings":{"retention_days":"ten"}}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := bodyErr(t, tc.route, tc.body)
			switch {
			case tc.code == "" && e != nil:
				t.Fatalf("refused: %+v", e)
			case tc.code != "" && (e == nil || e.Code != tc.code || e.Field != tc.field || e.Kind != errs.KindInvalid):
				t.Fatalf("got %+v, want %s on %s", e, tc.code, tc.field)
			}
		})
	}
}

func TestContractRules_Query(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	var got error
	for _, path := range []string{"/v1/projects", "/v1/projects/search", "/v1/search", "/v1/audit/records"} {
		r.GET(path, func(c *gin.Context) { got = contractRules.checkQuery(c) })
	}
	cases := []struct {
		url, code, field string
	}{
		{"/v1/projects", "", ""},
		{"/v1/projects?page_size=100&include_archived=true", "", ""},
		{"/v1/projects?page_size=0", "request.query_invalid", "page_size"},
		{"/v1/projects?page_size=101", "request.query_invalid", "page_size"},
		{"/v1/projects?page_size=ten", "request.query_invalid", "page_size"},
		{"/v1/projects?include_archived=maybe", "request.query_invalid", "include_archived"},
		{"/v1/projects?page_token=" + strings.Repeat("t", 1025), "project.page_token_invalid", "page_token"},
		{"/v1/projects?sort=owner", "", ""}, // enums are the service's
		{"/v1/projects/search", "project.query_invalid", "q"},
		{"/v1/projects/search?q=a", "project.query_invalid", "q"},
		{"/v1/projects/search?q=ab", "", ""},
		{"/v1/search?" + strings.Repeat("tag=a&", 11), "search.tags_invalid", "tag"},
		{"/v1/search?tag=a&tag=", "search.tags_invalid", "tag"},
		{"/v1/audit/records?page_size=500&actor=" + strings.Repeat("a", 256), "", ""},
		{"/v1/audit/records?actor=" + strings.Repeat("a", 257), "request.query_invalid", "actor"},
	}
	for _, tc := range cases {
		got = nil
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.url, nil))
		if tc.code == "" {
			if got != nil {
				t.Errorf("%s: refused: %v", tc.url[:min(len(tc.url), 60)], got)
			}
			continue
		}
		if e := errs.As(got); got == nil || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("%s: got %v, want %s on %s", tc.url[:min(len(tc.url), 60)], got, tc.code, tc.field)
		}
	}
}
