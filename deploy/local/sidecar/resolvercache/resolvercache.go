// Package resolvercache wraps a Dapr name resolver that answers every lookup with a query (the sqlite
// resolver of local runs) so that a sidecar stops asking for what it already knows.
//
// Dapr's gRPC proxy resolves the target app twice per call on each sidecar, once to pick the
// resiliency policy and once to connect, and the callee's sidecar resolves its own app id to learn
// that the call is local (dapr v1.16.2, pkg/messaging/grpc_proxy.go): four SQLite queries per
// proxied call, measured at about a quarter of a request's CPU under load (make bench -profile).
// Dapr caches lookups itself only for resolvers with several addresses per app (mDNS), for 20 s and
// without eviction on the proxy's path; this cache is shorter and narrower:
//   - an app's own id resolves to its own sidecar without a query: the runtime compares ids, not
//     addresses, to decide that a call is local, so the answer changes nothing but the cost;
//   - another app's address is kept for TTL (1 s in the sidecar). The resolver itself already
//     answers rows up to its updateInterval old, so a sidecar that dies without deregistering is
//     found for longer than that; one that deregisters cleanly is still found for up to TTL.
//
// Errors are never kept: an app that is not up yet is looked up again on the next call.
package resolvercache

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	nr "github.com/dapr/components-contrib/nameresolution"
)

// Resolver is a nr.Resolver that remembers answers for TTL.
type Resolver struct {
	nr.Resolver
	ttl time.Duration
	now func() time.Time

	// Set by Init.
	appID, namespace, self string

	mu      sync.RWMutex
	entries map[string]entry
}

type entry struct {
	address string
	at      time.Time
}

// New wraps inner; now is time.Now outside tests.
func New(inner nr.Resolver, ttl time.Duration, now func() time.Time) *Resolver {
	return &Resolver{Resolver: inner, ttl: ttl, now: now, entries: map[string]entry{}}
}

// Init initializes the wrapped resolver and records this sidecar's own app id and address.
func (r *Resolver) Init(ctx context.Context, md nr.Metadata) error {
	if err := r.Resolver.Init(ctx, md); err != nil {
		return err
	}
	r.appID, r.namespace = md.Instance.AppID, md.Instance.Namespace
	if md.Instance.Address != "" && md.Instance.DaprInternalPort > 0 {
		r.self = net.JoinHostPort(md.Instance.Address, strconv.Itoa(md.Instance.DaprInternalPort))
	}
	return nil
}

// ResolveID answers this sidecar's own app id from Init, another app's from the cache while it is
// younger than TTL, and otherwise from the wrapped resolver.
func (r *Resolver) ResolveID(ctx context.Context, req nr.ResolveRequest) (string, error) {
	if req.ID == r.appID && req.Namespace == r.namespace && r.self != "" {
		return r.self, nil
	}
	key := req.CacheKey()
	now := r.now()
	r.mu.RLock()
	e, ok := r.entries[key]
	r.mu.RUnlock()
	if ok && now.Sub(e.at) < r.ttl {
		return e.address, nil
	}
	address, err := r.Resolver.ResolveID(ctx, req)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.entries[key] = entry{address: address, at: now}
	r.mu.Unlock()
	return address, nil
}
