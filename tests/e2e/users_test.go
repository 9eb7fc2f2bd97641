package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSlice_RegisterLoginMeLogout(t *testing.T) {
	email := uniqueEmail("slice")
	r := request(t, "POST", "/v1/users", map[string]any{"email": strings.ToUpper(email), "password": goodPassword,
		"display_name": "Ada Lovelace", "region": "eu"}, nil).expect(t, http.StatusCreated)
	var created struct{ User user }
	r.decode(t, &created)
	if created.User.ID == "" || created.User.Email != email || created.User.Region != "eu" || created.User.DisplayName != "Ada Lovelace" {
		t.Fatalf("registered %+v", created.User)
	}
	if loc := r.Header.Get("Location"); loc != "/v1/users/"+created.User.ID {
		t.Fatalf("Location %q", loc)
	}

	s := login(t, email, goodPassword)
	if s.AccessToken == "" || s.RefreshToken == "" || s.TokenType != "Bearer" || s.User.ID != created.User.ID {
		t.Fatalf("login answered %+v", s)
	}
	exp, err := time.Parse(time.RFC3339, s.ExpiresAt)
	if err != nil || exp.Before(time.Now().Add(14*time.Minute)) || exp.After(time.Now().Add(16*time.Minute)) {
		t.Fatalf("access token expiry %q, want about 15 minutes from now", s.ExpiresAt)
	}

	var me struct{ User user }
	request(t, "GET", "/v1/users/me", nil, bearer(s.AccessToken)).expect(t, http.StatusOK).decode(t, &me)
	if me.User.ID != created.User.ID || me.User.Email != email || len(me.User.Roles) != 1 || me.User.Roles[0] != "member" {
		t.Fatalf("me %+v", me.User)
	}

	request(t, "POST", "/v1/auth/logout", nil, bearer(s.AccessToken)).expect(t, http.StatusNoContent)
	request(t, "GET", "/v1/users/me", nil, bearer(s.AccessToken)).expectError(t, http.StatusUnauthorized, "auth.invalid_token")
	request(t, "POST", "/v1/auth/logout", nil, bearer(s.AccessToken)).expectError(t, http.StatusUnauthorized, "auth.invalid_token")

	// Another session of the same user is untouched by that logout.
	s2 := login(t, email, goodPassword)
	request(t, "GET", "/v1/users/me", nil, bearer(s2.AccessToken)).expect(t, http.StatusOK)
}

func TestRegister_DuplicateEmailConflicts(t *testing.T) {
	email := uniqueEmail("dup")
	body := map[string]any{"email": email, "password": goodPassword, "display_name": "First", "region": "us"}
	request(t, "POST", "/v1/users", body, nil).expect(t, http.StatusCreated)
	body["email"] = "  " + strings.ToUpper(email) + " "
	body["display_name"] = "Second"
	request(t, "POST", "/v1/users", body, nil).expectError(t, http.StatusConflict, "user.email_taken")
}

func TestLogin_WrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	u := registerUser(t, "wrongpw")
	a := request(t, "POST", "/v1/auth/login", map[string]any{"email": u.Email, "password": "not the password at all"}, nil).
		expectError(t, http.StatusUnauthorized, "auth.invalid_credentials")
	b := request(t, "POST", "/v1/auth/login", map[string]any{"email": uniqueEmail("nobody"), "password": "not the password at all"}, nil).
		expectError(t, http.StatusUnauthorized, "auth.invalid_credentials")
	if a.Error.Message != b.Error.Message {
		t.Fatalf("messages differ: %q vs %q", a.Error.Message, b.Error.Message)
	}
}

func TestRegister_BadInput(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{"email": uniqueEmail("bad"), "password": goodPassword, "display_name": "Bad Input", "region": "us"}
	}
	with := func(k string, v any) map[string]any { m := valid(); m[k] = v; return m }
	without := func(k string) map[string]any { m := valid(); delete(m, k); return m }
	cases := []struct {
		name   string
		body   any
		ctype  string
		status int
		code   string
		field  string
	}{
		{"malformed json", `{"email": "a@b.co",`, "", 400, "request.malformed_json", ""},
		{"not an object", `["a"]`, "", 400, "request.malformed_json", ""},
		{"two objects", `{} {}`, "", 400, "request.malformed_json", ""},
		{"empty body", ``, "", 400, "request.malformed_json", ""},
		{"missing email", without("email"), "", 400, "request.field_required", "email"},
		{"missing password", without("password"), "", 400, "request.field_required", "password"},
		{"missing display name", without("display_name"), "", 400, "request.field_required", "display_name"},
		{"missing region", without("region"), "", 400, "request.field_required", "region"},
		{"unknown field", with("admin", true), "", 400, "request.unknown_field", "admin"},
		{"wrong type", with("email", 42), "", 400, "request.invalid_type", "email"},
		{"null field", with("password", nil), "", 400, "request.field_required", "password"},
		{"weak password", with("password", "short"), "", 400, "user.password_too_short", "password"},
		{"common password", with("password", "Password1234"), "", 400, "user.password_weak", "password"},
		{"overlong password", with("password", strings.Repeat("p4", 65)), "", 400, "request.field_too_long", "password"},
		{"bad email", with("email", "not-an-email"), "", 400, "user.email_invalid", "email"},
		{"overlong email", with("email", strings.Repeat("a", 250)+"@example.com"), "", 400, "request.field_too_long", "email"},
		{"bad region", with("region", "mars"), "", 400, "request.field_too_long", "region"},
		{"unknown region", with("region", "ap"), "", 400, "user.region_invalid", "region"},
		{"blank display name", with("display_name", "   "), "", 400, "user.display_name_required", "display_name"},
		{"wrong content type", valid(), "text/plain", 415, "request.unsupported_media_type", ""},
		{"oversized body", with("display_name", strings.Repeat("x", 70<<10)), "", 413, "request.too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.ctype != "" {
				h["Content-Type"] = tc.ctype
			}
			e := request(t, "POST", "/v1/users", tc.body, h).expectError(t, tc.status, tc.code)
			if e.Error.Field != tc.field {
				t.Fatalf("field %q, want %q", e.Error.Field, tc.field)
			}
		})
	}
	// None of those created an account: the same email registers fine afterwards.
	request(t, "POST", "/v1/users", valid(), nil).expect(t, http.StatusCreated)
}

func TestLogin_BadInput(t *testing.T) {
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed json", `{"email":`, 400, "request.malformed_json"},
		{"missing password", map[string]any{"email": "a@example.com"}, 400, "request.field_required"},
		{"unknown field", map[string]any{"email": "a@example.com", "password": "x", "otp": "1"}, 400, "request.unknown_field"},
		{"wrong type", map[string]any{"email": "a@example.com", "password": 12}, 400, "request.invalid_type"},
		{"oversized body", map[string]any{"email": strings.Repeat("e", 70<<10), "password": "x"}, 413, "request.too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			request(t, "POST", "/v1/auth/login", tc.body, nil).expectError(t, tc.status, tc.code)
		})
	}
}

// signed returns a token signed with the platform's real key, with claims of the test's choosing.
func signed(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = env.signingKid
	s, err := tok.SignedString(env.signingKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokens_RejectedWithout2xx(t *testing.T) {
	u := registerUser(t, "tokens")
	s := login(t, u.Email, goodPassword)
	parts := strings.Split(s.AccessToken, ".")
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(s.AccessToken, &claims); err != nil {
		t.Fatal(err)
	}
	tampered := func() string {
		sig := []byte(parts[2])
		if sig[5] == 'A' {
			sig[5] = 'B'
		} else {
			sig[5] = 'A'
		}
		return parts[0] + "." + parts[1] + "." + string(sig)
	}()
	// The same header and signature around a payload that makes the user an admin.
	forged := func() string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["roles"] = []string{"admin"}
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	expired := func() string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["iat"] = time.Now().Add(-time.Hour).Unix()
		c["nbf"] = time.Now().Add(-time.Hour).Unix()
		c["exp"] = time.Now().Add(-30 * time.Minute).Unix()
		return signed(t, c)
	}()
	otherIssuer := func() string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["iss"] = "someone-else"
		return signed(t, c)
	}()
	noSession := func() string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["sid"] = "00000000-0000-0000-0000-000000000000"
		return signed(t, c)
	}()
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = env.signingKid
		str, _ := tok.SignedString([]byte(env.signingKey.Public().(ed25519.PublicKey)))
		return str
	}
	cases := map[string]map[string]string{
		"no header":         nil,
		"empty bearer":      {"Authorization": "Bearer "},
		"basic scheme":      {"Authorization": "Basic dXNlcjpwYXNz"},
		"garbage":           bearer("not-a-jwt"),
		"tampered":          bearer(tampered),
		"forged payload":    bearer(forged),
		"alg none":          bearer(none),
		"expired":           bearer(expired),
		"other issuer":      bearer(otherIssuer),
		"unknown session":   bearer(noSession),
		"hs256 with pubkey": bearer(hs256()),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{{"GET", "/v1/users/me"}, {"POST", "/v1/auth/logout"}} {
				r := request(t, route.method, route.path, nil, h)
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d, want 401; body %s", route.method, route.path, r.Status, r.Body)
				}
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s: no WWW-Authenticate header", route.method, route.path)
				}
			}
		})
	}
	// The genuine token still works: none of the above ended its session.
	request(t, "GET", "/v1/users/me", nil, bearer(s.AccessToken)).expect(t, http.StatusOK)
}

func TestGateway_RequestIDsAndUnknownRoutes(t *testing.T) {
	r := request(t, "GET", "/v1/users/me", nil, map[string]string{"X-Request-Id": "e2e-request-0001"})
	if r.Header.Get("X-Request-Id") != "e2e-request-0001" {
		t.Fatalf("request id not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	bad := request(t, "GET", "/v1/users/me", nil, map[string]string{"X-Request-Id": "bad id with spaces"})
	if id := bad.Header.Get("X-Request-Id"); id == "" || id == "bad id with spaces" {
		t.Fatalf("malformed request id kept: %q", id)
	}
	request(t, "GET", "/v1/nothing-here", nil, nil).expectError(t, http.StatusNotFound, "route.not_found")
	request(t, "DELETE", "/v1/users", nil, nil).expectError(t, http.StatusMethodNotAllowed, "route.method_not_allowed")
}
