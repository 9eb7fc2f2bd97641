package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/acme/platform/deploy/local/freeport"
)

// billingPeriod is the suite's billing period.
const billingPeriod = 20 * time.Second

// stripeCall is one request billing made to Stripe.
type stripeCall struct {
	Method, Path, IdempotencyKey string
}

// stripeProxy stands between billing and stripe-mock: it records every call, and can answer one
// POST to a path with 503 after stripe-mock performed it — a response lost on the way back.
type stripeProxy struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []stripeCall
	loseNext map[string]bool
	stop     func()
}

func startStripe() (*stripeProxy, error) {
	httpPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	httpsPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	stopMock, err := startHelper("STRIPE_MOCK", httpPort, nil, "-http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"-https-addr", fmt.Sprintf("127.0.0.1:%d", httpsPort))
	if err != nil {
		return nil, err
	}
	target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", httpPort))
	p := &stripeProxy{loseNext: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls = append(p.calls, stripeCall{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key")})
		lose := r.Method == http.MethodPost && p.loseNext[r.URL.Path]
		delete(p.loseNext, r.URL.Path)
		p.mu.Unlock()
		if lose {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // Stripe did it; its answer is lost
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"lost on the way back"}}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.stop = func() { p.Server.Close(); stopMock() }
	return p, nil
}

// loseResponse makes the next POST to path reach Stripe but its answer fail.
func (p *stripeProxy) loseResponse(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseNext[path] = true
}

// callsTo are the calls so far to a path (a prefix ending in / matches below it).
func (p *stripeProxy) callsTo(method, path string) []stripeCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []stripeCall
	for _, c := range p.calls {
		if c.Method == method && (c.Path == path || (strings.HasSuffix(path, "/") && strings.HasPrefix(c.Path, path))) {
			out = append(out, c)
		}
	}
	return out
}

// mark is the number of calls so far, to look only at those after it.
func (p *stripeProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// since are the calls after mark to method and path.
func (p *stripeProxy) since(mark int, method, path string) []stripeCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []stripeCall
	for _, c := range p.calls[mark:] {
		if c.Method == method && (c.Path == path || (strings.HasSuffix(path, "/") && strings.HasPrefix(c.Path, path))) {
			out = append(out, c)
		}
	}
	return out
}
