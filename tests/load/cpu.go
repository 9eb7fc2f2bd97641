package main

import (
	"strings"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
)

// cpuMeter names the processes a request may cost CPU in: each app and its daprd by process group,
// Redis and PostgreSQL by command name.
type cpuMeter struct {
	groups map[int]string
}

func newCPUMeter(topo *launcher.Topology) cpuMeter {
	m := cpuMeter{groups: map[int]string{}}
	for _, a := range topo.Apps {
		app, sidecar := a.ProcessGroups()
		m.groups[app] = a.Spec.AppID
		m.groups[sidecar] = a.Spec.AppID + " daprd"
	}
	return m
}

// sample is the CPU time so far per process name (exited processes' time is lost, so only
// differences over a window in which nothing exits mean anything).
func (m cpuMeter) sample() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, p := range launcher.Processes() {
		switch name, ok := m.groups[p.PGID]; {
		case ok:
			out[name] += p.CPU
		case strings.HasPrefix(p.Comm, "redis-server"):
			out["redis"] += p.CPU
		case p.Comm == "postgres":
			out["postgres"] += p.CPU
		}
	}
	return out
}

// perRequest is the CPU each process spent per request between two samples.
func perRequest(before, after map[string]time.Duration, requests int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, t := range after {
		if d := t - before[name]; d > 0 && requests > 0 {
			out[name] = d / time.Duration(requests)
		}
	}
	return out
}
