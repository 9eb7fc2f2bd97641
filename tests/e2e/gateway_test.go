package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
)

func TestGateway_ServesHTTPSWithTheCertificateFromTheSecretStore(t *testing.T) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(env.tlsCert) {
		t.Fatal("no certificate in the secrets file")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(env.gatewayTLS + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("status %d, tls %+v", resp.StatusCode, resp.TLS)
	}
	// The API itself answers on HTTPS too.
	u := registerUser(t, "tls")
	r, err := client.Post(env.gatewayTLS+"/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, u.Email, goodPassword)))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login over HTTPS: %d", r.StatusCode)
	}
	// A client that does not trust the certificate is refused.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(env.gatewayTLS + "/healthz"); err == nil {
		t.Fatal("a client without the certificate connected")
	}
}

func TestGateway_CORSFromConfiguration(t *testing.T) {
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, env.gatewayURL+"/v1/projects", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("http://localhost:3000") // CORS_ALLOWED_ORIGINS in dapr.yaml
	if ok.StatusCode/100 != 2 || ok.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Fatalf("allowed origin: %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example")
	if bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a foreign origin was allowed: %v", bad.Header)
	}
}

// clientFrom sends requests from a loopback address of its own, so the per-address limit it meets is
// not the one the rest of the suite spends.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// Two gateway replicas share one limit: requests spread over both are refused once the limit of one
// is spent, which neither replica could know on its own.
func TestGateway_RateLimitIsSharedByReplicas(t *testing.T) {
	ctx := context.Background()
	second, err := launcher.Start(ctx, env.runFile, launcher.Options{
		Daprd: env.daprd, LogDir: filepath.Join(env.logDir, "gateway-replica"), ResourcesDir: env.resources,
		Only: []string{"gateway"}, FreePorts: true,
		Env: map[string]map[string]string{"gateway": withoutTLS(env.gatewayEnv)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		second.Stop()
		if left := second.Leftovers(); len(left) > 0 {
			t.Errorf("second gateway left processes: %v", left)
		}
	})
	urls := []string{env.gatewayURL, fmt.Sprintf("http://127.0.0.1:%d", second.App("gateway").AppPort)}
	client := clientFrom("127.0.0.9")
	const sent = 400 // the auth limit in this suite is 300 per minute per address, burst 300
	allowed, refused := 0, map[string]int{}
	var last *http.Response
	for i := 0; i < sent; i++ {
		url := urls[i%2]
		// Malformed on purpose: refused with 400 by the gateway itself, after the limiter counted it.
		resp, err := client.Post(url+"/v1/auth/login", "application/json", strings.NewReader(`{`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusBadRequest:
			allowed++
		case http.StatusTooManyRequests:
			refused[url]++
			last = resp
		default:
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	t.Logf("allowed %d of %d; refused per replica %v", allowed, sent, refused)
	// 300 at once, plus what trickles back at 5 per second while the loop runs.
	if allowed < 300 || allowed > 330 {
		t.Fatalf("allowed %d, want about 300 shared by both replicas", allowed)
	}
	if refused[urls[0]] == 0 || refused[urls[1]] == 0 {
		t.Fatalf("both replicas should refuse once the shared limit is spent: %v", refused)
	}
	if last.Header.Get("Retry-After") == "" || last.Header.Get("RateLimit-Limit") != "300" || last.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers: %v", last.Header)
	}
	// Another address is not affected.
	request(t, "POST", "/v1/auth/login", `{`, nil).expectError(t, http.StatusBadRequest, "request.malformed_json")
}

func withoutTLS(m map[string]string) map[string]string {
	out := map[string]string{"TLS_PORT": "", "TLS_SECRET": ""}
	for k, v := range m {
		if k != "TLS_PORT" {
			out[k] = v
		}
	}
	return out
}
