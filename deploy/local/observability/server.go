// Package observability runs the local monitoring stack beside a topology, the way make run and the
// e2e suite use it: Jaeger v2 as the trace store (OTLP over gRPC in, its query API out, traces kept
// in memory) and Prometheus from Debian's package, scraping every app and sidecar of the running
// topology with the platform's own alert rules loaded. Every listener is on 127.0.0.1.
package observability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/deploy/local/procgroup"
	"github.com/acme/platform/services/platform/poll"
)

// server is one started binary in a process group of its own.
type server struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	once sync.Once
}

// start runs bin with args and env in its own process group, its output appended to log.
func start(name, bin, log string, env []string, args ...string) (*server, error) {
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, done: make(chan struct{}), log: log}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

// waitOK waits until url answers 200, failing early if the server exits.
func (s *server) waitOK(url string, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	exited := false
	ok := poll.Until(within, 100*time.Millisecond, func() bool {
		select {
		case <-s.done:
			exited = true
			return true
		default:
		}
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	switch {
	case exited:
		return fmt.Errorf("%s exited while starting; see %s", s.name, s.log)
	case !ok:
		return fmt.Errorf("%s: %s did not answer within %s; see %s", s.name, url, within, s.log)
	}
	return nil
}

// stop ends the group: SIGTERM, then SIGKILL after a grace period. Once: a second call never
// signals a process group whose number may have been reused.
func (s *server) stop() {
	s.once.Do(func() { procgroup.Stop(s.cmd.Process.Pid, s.done, 5*time.Second) })
}

// PID is the server's process (group leader), for a caller checking nothing was left running.
func (s *server) PID() int { return s.cmd.Process.Pid }

// ports fills each zero port with a free one.
func ports(ps ...*int) error {
	for _, p := range ps {
		if *p != 0 {
			continue
		}
		var err error
		if *p, err = freeport.Get(); err != nil {
			return err
		}
	}
	return nil
}

// binary is path if set, else the environment variable's value; env names the setting in the error.
func binary(path, env, hint string) (string, error) {
	if path == "" {
		path = os.Getenv(env)
	}
	if path == "" {
		return "", errors.New(env + " is not set; " + hint)
	}
	return path, nil
}

// getJSON asks url and decodes its JSON answer into out, whatever the status (Prometheus answers
// errors in JSON too), except a 404, which is returned undecoded.
func getJSON(ctx context.Context, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s: %s: %w", url, resp.Status, err)
	}
	return resp.StatusCode, nil
}
