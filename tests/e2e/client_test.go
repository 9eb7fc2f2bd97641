package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/poll"
)

var httpClient = &http.Client{Timeout: 20 * time.Second}

// reply is one HTTP answer of the gateway.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// request sends method path with body (a string is sent as is, anything else as JSON) and the
// given headers; "Authorization" may be set by passing token.
func request(t *testing.T, method, path string, body any, headers map[string]string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, env.gatewayURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, req, resp.StatusCode, resp.Header, b)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// decode reads the reply's JSON body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

func (r reply) expect(t *testing.T, status int) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// errorBody is the STYLE.md error shape.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Field     string `json:"field"`
	} `json:"error"`
}

// expectError checks status, machine code, a message, and that the request id is the one the
// gateway answered in its header.
func (r reply) expectError(t *testing.T, status int, code string) errorBody {
	t.Helper()
	r.expect(t, status)
	var e errorBody
	r.decode(t, &e)
	if e.Error.Code != code {
		t.Fatalf("error code %q, want %q; body %s", e.Error.Code, code, r.Body)
	}
	if e.Error.Message == "" || e.Error.RequestID == "" || e.Error.RequestID != r.Header.Get("X-Request-Id") {
		t.Fatalf("error body lacks message or matching request id: %s (header %q)", r.Body, r.Header.Get("X-Request-Id"))
	}
	return e
}

var seq atomic.Int64

// uniqueEmail is an address no other test uses.
func uniqueEmail(tag string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", tag, time.Now().UnixNano(), seq.Add(1))
}

const goodPassword = "correct horse battery staple"

type user struct {
	ID            string   `json:"id"`
	Email         string   `json:"email"`
	DisplayName   string   `json:"display_name"`
	Region        string   `json:"region"`
	Roles         []string `json:"roles"`
	EmailVerified bool     `json:"email_verified"`
}

// registerUser registers a fresh account and returns it.
func registerUser(t *testing.T, tag string) user {
	t.Helper()
	r := request(t, "POST", "/v1/users", map[string]any{"email": uniqueEmail(tag), "password": goodPassword,
		"display_name": "Test " + tag, "region": "eu"}, nil).expect(t, http.StatusCreated)
	var out struct{ User user }
	r.decode(t, &out)
	return out.User
}

type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresAt    string `json:"expires_at"`
	User         user   `json:"user"`
}

func login(t *testing.T, email, password string) session {
	t.Helper()
	var s session
	request(t, "POST", "/v1/auth/login", map[string]any{"email": email, "password": password}, nil).expect(t, http.StatusOK).decode(t, &s)
	return s
}

// eventually calls done every interval until it returns true or within has passed, and reports
// whether it did: the wait for an effect that travels through events. The caller asserts.
func eventually(within, interval time.Duration, done func() bool) bool {
	return poll.Until(within, interval, done)
}
