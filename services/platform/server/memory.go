package server

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcPercent is the apps' GOGC unless the environment sets one: the collector runs after the heap
// has grown by three times what was live, not once. The services keep little live heap and
// allocate per request, so collection was about a tenth of the gateway's CPU per request at the
// default; at 300, with GOMEMLIMIT below, it was measured about a third lower (make bench, README).
const gcPercent = 300

// tuneMemory sets GOGC to gcPercent where GOGC is unset, and GOMEMLIMIT to 90 % of the container's
// memory limit (its cgroup, read by automemlimit) where GOMEMLIMIT is unset, so a heap allowed to
// grow further is still collected hard before the container would be killed for memory. Without a
// cgroup limit (a laptop) there is no memory limit, as before. It returns the GOGC and memory limit
// in force.
func tuneMemory(log *slog.Logger) (gogc int, limit int64) {
	gogc = debug.SetGCPercent(-1)
	if _, set := os.LookupEnv("GOGC"); !set {
		gogc = gcPercent
	}
	debug.SetGCPercent(gogc)
	limit, err := memlimit.Set(memlimit.WithLogger(log))
	if err != nil {
		log.Warn("GOMEMLIMIT not set from the container's limit", "error", err)
	}
	if limit < math.MaxInt64 {
		log.Info("memory", "gogc", gogc, "gomemlimit_bytes", limit)
	}
	return gogc, limit
}
