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
// is spent, which neither replica could know on its own. The test starts both replicas itself, with
// a low limit and a key prefix of their own.
func TestGateway_RateLimitIsSharedByReplicas(t *testing.T) {
	const limit = 50
	replicaEnv := withoutTLS(env.gatewayEnv)
	replicaEnv["RATE_LIMIT_AUTH"] = fmt.Sprintf("%d/m", limit)
	replicaEnv["RATE_LIMIT_PREFIX"] = fmt.Sprintf("ratetest-%d:", time.Now().UnixNano())
	urls := make([]string, 2)
	errc := make(chan error, 2)
	for i := range urls {
		go func() {
			topo, err := launcher.Start(context.Background(), env.runFile, launcher.Options{
				Daprd: env.daprd, LogDir: filepath.Join(env.logDir, fmt.Sprintf("gateway-replica-%d", i)), ResourcesDir: env.resources,
				Only: []string{"gateway"}, FreePorts: true, Env: map[string]map[string]string{"gateway": replicaEnv},
			})
			if err == nil {
				urls[i] = fmt.Sprintf("http://127.0.0.1:%d", topo.App("gateway").AppPort)
				t.Cleanup(func() {
					topo.Stop()
					if left := topo.Leftovers(); len(left) > 0 {
						t.Errorf("gateway replica left processes: %v", left)
					}
				})
			}
			errc <- err
		}()
	}
	for range urls {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	client := clientFrom("127.0.0.9")
	const sent = limit + 30
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
	// The burst at once, plus what trickles back (limit per minute) while the loop runs.
	if allowed < limit || allowed > limit+3 {
		t.Fatalf("allowed %d, want about %d shared by both replicas", allowed, limit)
	}
	if refused[urls[0]] == 0 || refused[urls[1]] == 0 {
		t.Fatalf("both replicas should refuse once the shared limit is spent: %v", refused)
	}
	if last.Header.Get("Retry-After") == "" || last.Header.Get("RateLimit-Limit") != fmt.Sprint(limit) || last.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers: %v", last.Header)
	}
	// Invalid tokens are limited too (issue 11, item 3): from another address, garbage bearer
	// tokens spend the same auth limit of failures, then get 429 without users being asked.
	other := clientFrom("127.0.0.10")
	unauthorized, limited := 0, 0
	for i := 0; i < limit+30; i++ {
		req, _ := http.NewRequest("GET", urls[i%2]+"/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer garbage-"+fmt.Sprint(i))
		resp, err := other.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("garbage token %d: status %d", i, resp.StatusCode)
		}
	}
	if unauthorized < limit || unauthorized > limit+3 || limited == 0 {
		t.Fatalf("garbage tokens: %d × 401, %d × 429; want about %d then 429s", unauthorized, limited, limit)
	}
	// The same address on the suite's own gateway (another limit, another prefix) is not affected.
	resp, err := client.Post(env.gatewayURL+"/v1/auth/login", "application/json", strings.NewReader(`{`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("suite gateway: %d", resp.StatusCode)
	}
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
