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
	"time"

	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/deploy/local/procgroup"
)

// start runs bin with args, env added to its environment, as a server in a process group of its
// own with its output appended to log.
func start(name, bin, log string, env []string, args ...string) (*procgroup.Server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return procgroup.Start(name, log, cmd)
}

// answering waits until srv answers 200 at url, failing early if it exits.
func answering(srv *procgroup.Server, url string, within time.Duration) error {
	return srv.WaitUntil(within, 100*time.Millisecond, "answering "+url, procgroup.Answers200(url))
}

// stopGrace is how long a server has to stop after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

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
