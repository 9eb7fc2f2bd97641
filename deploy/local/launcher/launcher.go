package launcher

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Options say what to start and where its output goes.
type Options struct {
	// Daprd is the sidecar binary.
	Daprd string
	// LogDir receives <app>.log and <app>.daprd.log.
	LogDir string
	// Console receives prefixed log lines of apps and sidecars whose destination includes the console.
	Console io.Writer
	// ResourcesDir, when set, replaces every app's resourcesPaths and configFilePath's folder: tests
	// point the same components at their own broker and databases (see CopyResources).
	ResourcesDir string
	// CommonEnv adds to every app's environment (the trace store's address); Env overrides it.
	CommonEnv map[string]string
	// Env adds to or overrides each app's environment, by app id; tests give each app its own database.
	Env map[string]map[string]string
	// FreePorts ignores the run file's fixed ports and gives every app and sidecar free ones, so a test
	// topology can run beside make run's.
	FreePorts bool
	// Extra apps run beside the file's, with its common settings (tests add their own consumers).
	Extra []AppSpec
	// Only starts these app ids; all when empty.
	Only []string
	// ProfileSidecars starts every daprd with its pprof server (--enable-profiling) on a free port
	// of loopback (App.ProfilePort); the load harness profiles sidecars with it.
	ProfileSidecars bool
	// ReadyTimeout bounds the wait for every sidecar and app (default 3 minutes: a cold `go run`
	// compiles first).
	ReadyTimeout time.Duration
}

// App is one running app and its sidecar.
type App struct {
	Spec         AppSpec
	AppPort      int
	HTTPPort     int
	GRPCPort     int
	MetricsPort  int
	InternalPort int
	// AppMetricsPort serves the app\'s own /metrics (APP_METRICS_PORT).
	AppMetricsPort int
	// ProfilePort serves the daprd's /debug/pprof when Options.ProfileSidecars; 0 otherwise.
	ProfilePort int
	State       string
	// APIToken guards the sidecar's API (DAPR_API_TOKEN: the app sends it), AppToken the app's port
	// (APP_API_TOKEN: the sidecar sends it). Fresh for each run, so no other local process can call
	// the app or its sidecar unless it is handed them.
	APIToken, AppToken string

	rf      *RunFile
	opts    *Options
	appCmd  *exec.Cmd
	daprCmd *exec.Cmd
	logs    []io.Closer
	exited  chan struct{}
	mu      sync.Mutex
	exitErr map[string]error
}

// Topology is everything a Start launched.
type Topology struct {
	Apps  []*App
	rf    *RunFile
	opts  Options
	mu    sync.Mutex
	pgids map[int]bool
}

// Start launches every app of the run file with its daprd and waits until all are healthy.
func Start(ctx context.Context, runFile string, opts Options) (*Topology, error) {
	rf, err := ReadRunFile(runFile)
	if err != nil {
		return nil, err
	}
	for _, extra := range opts.Extra {
		extra.inherit(rf.Common)
		if err := extra.check(); err != nil {
			return nil, fmt.Errorf("extra app %s: %w", extra.AppID, err)
		}
		rf.Apps = append(rf.Apps, extra)
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Minute
	}
	if _, err := os.Stat(opts.Daprd); err != nil {
		return nil, fmt.Errorf("daprd binary: %w (run make sidecar)", err)
	}
	if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
		return nil, err
	}
	t := &Topology{rf: rf, opts: opts, pgids: map[int]bool{}}
	ports := newPortPool(rf)
	for _, spec := range rf.Apps {
		if len(opts.Only) > 0 && !contains(opts.Only, spec.AppID) {
			continue
		}
		a := &App{Spec: spec, rf: rf, opts: &t.opts, State: "starting", APIToken: randomToken(), AppToken: randomToken()}
		fixed := func(p int) int {
			if opts.FreePorts {
				return 0
			}
			return p
		}
		for _, p := range []struct {
			to   *int
			want int
		}{{&a.HTTPPort, spec.DaprHTTPPort}, {&a.GRPCPort, spec.DaprGRPCPort}, {&a.MetricsPort, spec.MetricsPort},
			{&a.InternalPort, spec.DaprInternalGRPCPort}, {&a.AppMetricsPort, 0}, {&a.AppPort, spec.AppPort}} {
			if p.to == &a.AppPort && spec.AppPort == 0 {
				continue // an app without a port is one daprd never calls
			}
			port, err := ports.take(fixed(p.want))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", spec.AppID, err)
			}
			*p.to = port
		}
		if opts.ProfileSidecars {
			if a.ProfilePort, err = ports.take(0); err != nil {
				return nil, fmt.Errorf("%s: %w", spec.AppID, err)
			}
		}
		t.Apps = append(t.Apps, a)
	}
	if len(t.Apps) == 0 {
		return nil, errors.New("no app to start")
	}
	rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	for i, a := range t.Apps {
		if err := t.startApp(a); err != nil {
			t.Stop()
			return nil, err
		}
		// The first sidecar creates the sqlite name-resolution file; sidecars migrating a fresh file
		// together can fail with SQLITE_BUSY before the busy timeout applies, and such a sidecar never
		// resolves a name (seen: "failed to perform migrations: database is locked"). The others
		// start once the first is healthy, when the file exists and is migrated.
		if i == 0 {
			if err := waitFor(rctx, a.sidecarHealthy); err != nil {
				t.Stop()
				return nil, fmt.Errorf("%s: sidecar not healthy: %w", a.Spec.AppID, err)
			}
		}
	}
	if err := t.waitReady(rctx, t.Apps); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// App returns the running app with this id, or nil.
func (t *Topology) App(id string) *App {
	for _, a := range t.Apps {
		if a.Spec.AppID == id {
			return a
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// randomToken is 128 random bits, as text.
func randomToken() string { return rand.Text() }
