package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/platform/contracts/openapi"
)

// protectedRoutes lists every operation of the contract that checks a bearer token, with its path
// parameters filled in, and whether it also serves anonymous callers (security: [{}, {bearer: []}]).
func protectedRoutes(t *testing.T, projectID, userID string) ([][2]string, map[string]bool) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var routes [][2]string
	anonymousToo := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public: security: []
			}
			if op.Security != nil {
				for _, req := range *op.Security {
					if len(req) == 0 {
						anonymousToo[method+" "+path] = true
					}
				}
			}
			p := strings.NewReplacer("{id}", projectID, "{user_id}", userID).Replace(path)
			if strings.HasPrefix(path, "/v1/users/{id}") || strings.HasPrefix(path, "/v1/users/me/sessions/{id}") {
				p = strings.ReplaceAll(path, "{id}", userID)
			}
			routes = append(routes, [2]string{method, p})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i][1]+routes[i][0] < routes[j][1]+routes[j][0] })
	if len(routes) < 20 {
		t.Fatalf("only %d protected routes found in the contract", len(routes))
	}
	return routes, anonymousToo
}

// Every protected route of the contract refuses every kind of bad token with 401, before anything
// else happens (no 2xx, no 4xx that would reveal the route's own checks). A route that also serves
// anonymous callers (search) refuses a bad token all the same: a caller is anonymous only by
// sending none.
func TestAuthorization_EveryProtectedRouteRefusesBadTokens(t *testing.T) {
	victim := newAccount(t, "authz-victim")
	p, _ := victim.createProject(t, map[string]any{"name": "Authz Target"})
	loggedOut := newAccount(t, "authz-out")
	loggedOut.do(t, "POST", "/v1/auth/logout", nil).expect(t, http.StatusNoContent)

	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(victim.token, &claims); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) string {
		c := jwt.MapClaims{}
		for key, val := range claims {
			c[key] = val
		}
		c[k] = v
		return signed(t, c)
	}
	parts := strings.Split(victim.token, ".")
	tokens := map[string]string{
		"anonymous":    "",
		"expired":      with("exp", time.Now().Add(-time.Minute).Unix()),
		"tampered":     parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"alg none":     "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".",
		"after logout": loggedOut.token,
		"wrong issuer": with("iss", "evil"),
	}
	routes, anonymousToo := protectedRoutes(t, p.ID, victim.ID)
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"If-Match": `"1"`}
			if tok != "" {
				h["Authorization"] = "Bearer " + tok
			}
			for _, r := range routes {
				if tok == "" && anonymousToo[r[0]+" "+r[1]] {
					continue
				}
				var body any
				if r[0] == "POST" || r[0] == "PATCH" || r[0] == "PUT" {
					body = map[string]any{}
				}
				got := request(t, r[0], r[1], body, h)
				if got.Status != http.StatusUnauthorized {
					t.Errorf("%s %s: %d, want 401; %s", r[0], r[1], got.Status, got.Body)
				}
			}
		})
	}
	// The victim's genuine token is untouched by all of that.
	victim.do(t, "GET", "/v1/projects/"+p.ID, nil).expect(t, http.StatusOK)
}

// A private project: strangers learn nothing (404), members meet their role's limits (403); none of
// these requests succeeds or changes the project.
func TestAuthorization_ProjectRoleMatrix(t *testing.T) {
	owner, stranger, viewer, editor := newAccount(t, "rm-owner"), newAccount(t, "rm-stranger"), newAccount(t, "rm-viewer"), newAccount(t, "rm-editor")
	p, _ := owner.createProject(t, map[string]any{"name": "Role Matrix"})
	base := "/v1/projects/" + p.ID
	owner.do(t, "POST", base+"/members", map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	owner.do(t, "POST", base+"/members", map[string]any{"user_id": editor.ID, "role": "editor"}).expect(t, http.StatusCreated)
	var before struct{ Project project }
	owner.do(t, "GET", base, nil).expect(t, http.StatusOK).decode(t, &before)
	ifMatch := []string{"If-Match", fmt.Sprintf(`"%d"`, before.Project.Version)}

	type call struct {
		method, path string
		body         any
	}
	writes := []call{
		{"PATCH", base, map[string]any{"name": "hijacked"}},
		{"DELETE", base, nil},
		{"POST", base + "/archive", nil},
		{"POST", base + "/restore", nil},
		{"POST", base + "/transfer", map[string]any{"new_owner_id": viewer.ID}},
		{"POST", base + "/members", map[string]any{"user_id": stranger.ID, "role": "viewer"}},
		{"PATCH", base + "/members/" + owner.ID, map[string]any{"role": "viewer"}},
		{"DELETE", base + "/members/" + owner.ID, nil},
	}
	reads := []call{{"GET", base, nil}, {"GET", base + "/members", nil}}
	cases := []struct {
		who    account
		calls  []call
		status int
	}{
		{stranger, append(append([]call{}, reads...), writes...), http.StatusNotFound},
		{viewer, writes, http.StatusForbidden},
		// Editors edit and archive, but neither delete, transfer nor manage members.
		{editor, []call{writes[1], writes[4], writes[5], writes[6], writes[7]}, http.StatusForbidden},
	}
	for _, tc := range cases {
		for _, c := range tc.calls {
			r := tc.who.do(t, c.method, c.path, c.body, ifMatch...)
			if r.Status != tc.status {
				t.Errorf("%s: %s %s = %d, want %d; %s", tc.who.Email, c.method, c.path, r.Status, tc.status, r.Body)
			}
		}
	}
	var after struct{ Project project }
	owner.do(t, "GET", base, nil).expect(t, http.StatusOK).decode(t, &after)
	if after.Project.Version != before.Project.Version || after.Project.Name != "Role Matrix" {
		t.Fatalf("the project changed: %+v", after.Project)
	}
}
