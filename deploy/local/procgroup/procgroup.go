// Package procgroup starts the local tooling's servers each in a process group of its own (Server:
// Kafka, OpenSearch, the trace store, Prometheus) and ends a group whole (daprd's too), so that
// nothing a server spawned is left behind.
package procgroup

import (
	"syscall"
	"time"
)

// Stop asks the group of pid to stop (SIGTERM) and kills it (SIGKILL) if done has not closed
// within grace; it returns once done is closed (the leader was reaped).
func Stop(pid int, done <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		Kill(pid, done)
	}
}

// Kill ends the group of pid at once, as a crash would, and returns once done is closed.
func Kill(pid int, done <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-done
}
