package launcher

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/acme/platform/deploy/local/freeport"

	"github.com/acme/platform/deploy/local/procgroup"
)

// SidecarOptions shape a bare daprd without an app, for tests of one building block (state,
// pub/sub) against the real sidecar.
type SidecarOptions struct {
	// Daprd is the binary (make sets DAPRD).
	Daprd string
	// AppID names the sidecar; components scoped to it load.
	AppID string
	// ResourcesDir holds the component files; Config is the Configuration file ("" for none). A
	// Configuration with a non-mDNS name resolver is needed: mDNS would multicast.
	ResourcesDir, Config string
	// Log receives daprd's output.
	Log string
}

// Sidecar is a running bare daprd.
type Sidecar struct {
	HTTPPort, GRPCPort int
	cmd                *exec.Cmd
	done               chan struct{}
}

// StartSidecar starts daprd on free loopback ports and waits until it reports healthy.
func StartSidecar(ctx context.Context, o SidecarOptions) (*Sidecar, error) {
	var ports [4]int
	for i := range ports {
		p, err := freeport.Get()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	args := append(sidecarArgs(o.AppID, "127.0.0.1", ports[0], ports[1], ports[2], ports[3], "info"), "--resources-path", o.ResourcesDir)
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	if err := os.MkdirAll(filepath.Dir(o.Log), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.Daprd, args...)
	cmd.Env = append(os.Environ(), "DAPR_HOST_IP=127.0.0.1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("daprd: %w", err)
	}
	s := &Sidecar{HTTPPort: ports[0], GRPCPort: ports[1], cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if httpOK(wctx, fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", s.HTTPPort)) == nil {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("daprd exited while starting; see %s", o.Log)
		case <-wctx.Done():
			s.Close()
			return nil, fmt.Errorf("daprd not healthy after 60 s; see %s", o.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops daprd (SIGTERM, SIGKILL after 10 s).
func (s *Sidecar) Close() {
	procgroup.Stop(s.cmd.Process.Pid, s.done, 10*time.Second)
}
