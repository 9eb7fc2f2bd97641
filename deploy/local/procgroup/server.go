package procgroup

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/acme/platform/services/platform/poll"
)

// Server is a command started in a process group of its own, its output appended to a log file:
// the shape of every server the local tooling starts (Kafka, OpenSearch, the trace store,
// Prometheus).
type Server struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
	once      sync.Once
}

// Start runs cmd in a group of its own with its output appended to log (its folder is made);
// name labels its errors.
func Start(name, log string, cmd *exec.Cmd) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &Server{name: name, log: log, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

// WaitUntil asks ready every interval until it answers true, within; it fails at once if the
// server exits meanwhile. what names the awaited state in the error.
func (s *Server) WaitUntil(within, interval time.Duration, what string, ready func() bool) error {
	ok := poll.Until(within, interval, func() bool { return s.Exited() || ready() })
	switch {
	case s.Exited():
		return fmt.Errorf("%s exited while starting; see %s", s.name, s.log)
	case !ok:
		return fmt.Errorf("%s: not %s within %s; see %s", s.name, what, within, s.log)
	}
	return nil
}

// Answers200 is a ready check: a GET of url answers 200.
func Answers200(url string) func() bool {
	client := &http.Client{Timeout: 2 * time.Second}
	return func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// Stop ends the group (see the package's Stop). Only the first Stop or Kill signals: a later one
// never signals a process group whose number may have been reused.
func (s *Server) Stop(grace time.Duration) {
	s.once.Do(func() { Stop(s.cmd.Process.Pid, s.done, grace) })
}

// Kill ends the group at once, as a crash would (once, as Stop).
func (s *Server) Kill() {
	s.once.Do(func() { Kill(s.cmd.Process.Pid, s.done) })
}

// Exited tells whether the group leader has exited (and been reaped).
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// PID is the group leader's process id, the group's number.
func (s *Server) PID() int { return s.cmd.Process.Pid }
