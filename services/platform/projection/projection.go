// Package projection holds the rule every read model follows: apply an aggregate's event only if it
// is newer than what the model already reflects. Kafka delivers at least once and a replay can bring
// back an old event; the aggregate version each event carries makes both harmless.
package projection

import "sync"

// Guard remembers, per aggregate, the newest version applied. It is the in-memory form of the rule;
// a durable read model stores a Version beside the data it guards (search keeps it in each document).
type Guard struct {
	mu   sync.Mutex
	seen map[string]Version
}

// NewGuard returns an empty guard.
func NewGuard() *Guard { return &Guard{seen: map[string]Version{}} }

// Apply runs fn for the event at version of aggregate if the version is newer than any applied, and
// records it when fn succeeds. It reports whether fn ran. Events of one aggregate are applied one at
// a time.
func (g *Guard) Apply(aggregate string, version int64, fn func() error) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.seen[aggregate]
	if !v.Accepts(version) {
		return false, nil
	}
	if err := fn(); err != nil {
		return false, err
	}
	v.Applied(version)
	g.seen[aggregate] = v
	return true, nil
}

// Version is the newest version applied for aggregate, 0 for none.
func (g *Guard) Version(aggregate string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[aggregate].Of
}
