package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procStat is one process's process group, command name and CPU time so far.
type procStat struct {
	pgid int
	comm string
	cpu  time.Duration
}

// readProcs reads every process's stat line.
func readProcs() []procStat {
	entries, _ := os.ReadDir("/proc")
	var out []procStat
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		rest := strings.Fields(s[end+1:])
		if len(rest) < 13 {
			continue
		}
		pg, _ := strconv.Atoi(rest[2])
		ut, _ := strconv.ParseInt(rest[11], 10, 64)
		st, _ := strconv.ParseInt(rest[12], 10, 64)
		out = append(out, procStat{pgid: pg, comm: s[open+1 : end], cpu: time.Duration(ut+st) * clockTick})
	}
	return out
}

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
	for _, p := range readProcs() {
		switch name, ok := m.groups[p.pgid]; {
		case ok:
			out[name] += p.cpu
		case strings.HasPrefix(p.comm, "redis-server"):
			out["redis"] += p.cpu
		case p.comm == "postgres":
			out["postgres"] += p.cpu
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
