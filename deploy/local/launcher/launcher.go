package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/acme/platform/deploy/local/freeport"
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
	// Env adds to or overrides each app's environment, by app id; tests give each app its own database.
	Env map[string]map[string]string
	// FreePorts ignores the run file's fixed ports and gives every app and sidecar free ones, so a test
	// topology can run beside make run's.
	FreePorts bool
	// Extra apps run beside the file's, with its common settings (tests add their own consumers).
	Extra []AppSpec
	// Only starts these app ids; all when empty.
	Only []string
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
	State          string

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
		a := &App{Spec: spec, rf: rf, opts: &t.opts, State: "starting"}
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
		t.Apps = append(t.Apps, a)
	}
	if len(t.Apps) == 0 {
		return nil, errors.New("no app to start")
	}
	for _, a := range t.Apps {
		if err := t.startApp(a); err != nil {
			t.Stop()
			return nil, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
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

func (t *Topology) resources(a *App) ([]string, string) {
	cfg := a.rf.path(a.Spec.ConfigFilePath)
	if t.opts.ResourcesDir != "" {
		if cfg != "" {
			cfg = filepath.Join(t.opts.ResourcesDir, filepath.Base(cfg))
		}
		return []string{t.opts.ResourcesDir}, cfg
	}
	var paths []string
	for _, p := range a.Spec.ResourcesPaths {
		paths = append(paths, a.rf.path(p))
	}
	return paths, cfg
}

// daprdArgs maps the template's fields to daprd flags as the Dapr CLI does, and adds what these
// machines need: every listener on 127.0.0.1, no placement and no scheduler.
func (t *Topology) daprdArgs(a *App) []string {
	s := a.Spec
	listen := s.APIListenAddresses
	if listen == "" {
		listen = "127.0.0.1"
	}
	args := append(sidecarArgs(s.AppID, listen, a.HTTPPort, a.GRPCPort, a.InternalPort, a.MetricsPort, s.LogLevel),
		"--app-protocol", s.AppProtocol, "--app-channel-address", s.AppChannelAddress)
	if a.AppPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(a.AppPort))
	}
	paths, cfg := t.resources(a)
	for _, p := range paths {
		args = append(args, "--resources-path", p)
	}
	if cfg != "" {
		args = append(args, "--config", cfg)
	}
	if s.EnableAppHealthCheck {
		args = append(args, "--enable-app-health-check")
		if s.AppHealthCheckPath != "" {
			args = append(args, "--app-health-check-path", s.AppHealthCheckPath)
		}
		if s.AppHealthProbeInterval > 0 {
			args = append(args, "--app-health-probe-interval", strconv.Itoa(s.AppHealthProbeInterval))
		}
		if s.AppHealthProbeTimeout > 0 {
			args = append(args, "--app-health-probe-timeout", strconv.Itoa(s.AppHealthProbeTimeout))
		}
		if s.AppHealthThreshold > 0 {
			args = append(args, "--app-health-threshold", strconv.Itoa(s.AppHealthThreshold))
		}
	}
	if s.EnableAPILogging {
		args = append(args, "--enable-api-logging")
	}
	return args
}

// sidecarArgs are the flags every daprd here gets: standalone, every listener on loopback (listen
// for the API), no placement or scheduler.
func sidecarArgs(appID, listen string, httpPort, grpcPort, internalPort, metricsPort int, logLevel string) []string {
	return []string{
		"--mode", "standalone",
		"--app-id", appID,
		"--dapr-http-port", strconv.Itoa(httpPort),
		"--dapr-grpc-port", strconv.Itoa(grpcPort),
		"--dapr-internal-grpc-port", strconv.Itoa(internalPort),
		"--metrics-port", strconv.Itoa(metricsPort),
		"--dapr-listen-addresses", listen,
		"--dapr-public-listen-address", "127.0.0.1",
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--placement-host-address", "",
		"--scheduler-host-address", "",
		"--log-level", logLevel,
		"--log-as-json=false",
	}
}

func (t *Topology) appEnv(a *App) []string {
	env := map[string]string{}
	for k, v := range a.Spec.Env {
		env[k] = v
	}
	for k, v := range t.opts.Env[a.Spec.AppID] {
		env[k] = v
	}
	env["APP_ID"] = a.Spec.AppID
	env["APP_PORT"] = strconv.Itoa(a.AppPort)
	env["APP_PROTOCOL"] = a.Spec.AppProtocol
	env["DAPR_HTTP_PORT"] = strconv.Itoa(a.HTTPPort)
	env["DAPR_GRPC_PORT"] = strconv.Itoa(a.GRPCPort)
	env["DAPR_METRICS_PORT"] = strconv.Itoa(a.MetricsPort)
	env["APP_METRICS_PORT"] = strconv.Itoa(a.AppMetricsPort)
	out := os.Environ()
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (t *Topology) startApp(a *App) error {
	a.exited = make(chan struct{})
	a.exitErr = map[string]error{}
	id := a.Spec.AppID
	daprOut, err := t.output(a, id+".daprd.log", "== DAPR - "+id+" == ", a.Spec.DaprdLogDestination)
	if err != nil {
		return err
	}
	appOut, err := t.output(a, id+".log", "== APP - "+id+" == ", a.Spec.AppLogDestination)
	if err != nil {
		return err
	}
	a.daprCmd = exec.Command(t.opts.Daprd, t.daprdArgs(a)...)
	a.daprCmd.Dir = a.rf.Dir
	// The sqlite name resolver registers this address for the app; loopback keeps it on the machine.
	a.daprCmd.Env = append(os.Environ(), "DAPR_HOST_IP=127.0.0.1")
	a.daprCmd.Stdout, a.daprCmd.Stderr = daprOut, daprOut
	a.daprCmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	a.appCmd = exec.Command(a.Spec.Command[0], a.Spec.Command[1:]...)
	a.appCmd.Dir = a.rf.path(a.Spec.AppDirPath)
	a.appCmd.Env = t.appEnv(a)
	a.appCmd.Stdout, a.appCmd.Stderr = appOut, appOut
	a.appCmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	if err := a.daprCmd.Start(); err != nil {
		return fmt.Errorf("%s: start daprd: %w", id, err)
	}
	t.track(a.daprCmd.Process.Pid)
	if err := a.appCmd.Start(); err != nil {
		return fmt.Errorf("%s: start app: %w", id, err)
	}
	t.track(a.appCmd.Process.Pid)
	var wg sync.WaitGroup
	for name, cmd := range map[string]*exec.Cmd{"daprd": a.daprCmd, "app": a.appCmd} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			a.mu.Lock()
			a.exitErr[name] = fmt.Errorf("%s exited: %v", name, err)
			a.mu.Unlock()
		}()
	}
	go func() { wg.Wait(); close(a.exited) }()
	return nil
}

func (t *Topology) track(pgid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pgids[pgid] = true
}

func (t *Topology) output(a *App, file, prefix, dest string) (io.Writer, error) {
	var ws []io.Writer
	if dest != "console" {
		f, err := os.OpenFile(filepath.Join(t.opts.LogDir, file), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		a.logs = append(a.logs, f)
		ws = append(ws, f)
	}
	if dest != "file" && t.opts.Console != nil {
		ws = append(ws, &prefixWriter{prefix: prefix, w: t.opts.Console})
	}
	if len(ws) == 0 {
		return io.Discard, nil
	}
	return io.MultiWriter(ws...), nil
}

// Exited reports why an app or its sidecar ended, or nil while both run.
func (a *App) Exited() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var es []error
	for _, e := range a.exitErr {
		es = append(es, e)
	}
	return errors.Join(es...)
}

// waitReady waits for every sidecar's /v1.0/healthz and every app's health. A gRPC app counts as up
// once it answers a health check through its own sidecar, which proves the whole invocation path.
func (t *Topology) waitReady(ctx context.Context, apps []*App) error {
	errc := make(chan error, len(apps))
	for _, a := range apps {
		go func() {
			err := a.waitReady(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w (logs in %s)", a.Spec.AppID, err, t.opts.LogDir)
			}
			errc <- err
		}()
	}
	var es []error
	for range apps {
		if err := <-errc; err != nil {
			es = append(es, err)
		}
	}
	return errors.Join(es...)
}

func (a *App) waitReady(ctx context.Context) error {
	var last error
	check := func(f func(context.Context) error) error {
		for {
			if err := a.Exited(); err != nil {
				a.State = "exited"
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			last = f(cctx)
			cancel()
			if last == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				a.State = "unhealthy"
				return fmt.Errorf("not ready: %w", last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := check(a.sidecarHealthy); err != nil {
		return fmt.Errorf("sidecar: %w", err)
	}
	if err := check(a.appHealthy); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.State = "healthy"
	return nil
}

func (a *App) sidecarHealthy(ctx context.Context) error {
	return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", a.HTTPPort))
}

func (a *App) appHealthy(ctx context.Context) error {
	if a.AppPort == 0 {
		return nil
	}
	if a.Spec.AppProtocol == "http" {
		path := a.Spec.AppHealthCheckPath
		if path == "" {
			path = "/healthz"
		}
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d%s", a.AppPort, path))
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", a.GRPCPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", a.Spec.AppID)
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %s", resp.GetStatus())
	}
	return nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return nil
}

// Stop ends every app, then every sidecar: SIGTERM to each process group, SIGKILL to whatever is
// left after the grace period. It returns once all processes have been reaped.
func (t *Topology) Stop() {
	for _, a := range t.Apps {
		a.signal(a.appCmd, syscall.SIGTERM)
	}
	t.waitGroups(t.appPGIDs(), 12*time.Second)
	for _, a := range t.Apps {
		a.signal(a.daprCmd, syscall.SIGTERM)
	}
	t.waitGroups(t.allPGIDs(), 12*time.Second)
	for _, pgid := range t.allPGIDs() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	for _, a := range t.Apps {
		if a.exited != nil {
			select {
			case <-a.exited:
			case <-time.After(5 * time.Second):
			}
		}
		for _, c := range a.logs {
			c.Close()
		}
		a.logs = nil
		a.State = "stopped"
	}
}

// StopApp stops one app and its sidecar (SIGTERM, SIGKILL after the grace period); StartAgain
// brings them back on the same ports.
func (t *Topology) StopApp(id string) error { return t.end(id, syscall.SIGTERM, "stopped") }

// KillApp ends an app and its sidecar with SIGKILL, as a crash would: no graceful shutdown, no
// deregistration, nothing flushed. StartAgain brings them back.
func (t *Topology) KillApp(id string) error { return t.end(id, syscall.SIGKILL, "killed") }

func (t *Topology) end(id string, sig syscall.Signal, state string) error {
	a := t.App(id)
	if a == nil {
		return fmt.Errorf("no app %q", id)
	}
	a.signal(a.appCmd, sig)
	a.signal(a.daprCmd, sig)
	pg := []int{a.appCmd.Process.Pid, a.daprCmd.Process.Pid}
	if sig != syscall.SIGKILL {
		t.waitGroups(pg, 12*time.Second)
	}
	for _, p := range pg {
		_ = syscall.Kill(-p, syscall.SIGKILL)
	}
	<-a.exited
	for _, c := range a.logs {
		c.Close()
	}
	a.logs = nil
	a.State = state
	return nil
}

// StartAgain restarts a stopped app with its sidecar and waits until both are healthy.
func (t *Topology) StartAgain(ctx context.Context, id string) error {
	a := t.App(id)
	if a == nil {
		return fmt.Errorf("no app %q", id)
	}
	if err := t.startApp(a); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, t.opts.ReadyTimeout)
	defer cancel()
	return t.waitReady(rctx, []*App{a})
}

func (a *App) signal(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}

func (t *Topology) appPGIDs() []int {
	var out []int
	for _, a := range t.Apps {
		if a.appCmd != nil && a.appCmd.Process != nil {
			out = append(out, a.appCmd.Process.Pid)
		}
	}
	return out
}

func (t *Topology) allPGIDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for p := range t.pgids {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

func (t *Topology) waitGroups(pgids []int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(LiveInGroups(pgids)) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Leftovers lists processes still alive (zombies excluded) in any process group this topology
// started; empty after a clean Stop.
func (t *Topology) Leftovers() []int { return LiveInGroups(t.allPGIDs()) }

// LiveInGroups scans /proc for processes, not zombies, whose process group is one of pgids.
func LiveInGroups(pgids []int) []int {
	want := map[int]bool{}
	for _, p := range pgids {
		want[p] = true
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		s := string(b)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(rest) < 3 || rest[0] == "Z" {
			continue
		}
		if pg, _ := strconv.Atoi(rest[2]); want[pg] {
			out = append(out, pid)
		}
	}
	return out
}

// portPool hands out the run file's fixed ports and free ones that collide with none of them.
type portPool struct {
	reserved map[int]bool
}

func newPortPool(rf *RunFile) *portPool {
	p := &portPool{reserved: map[int]bool{}}
	for _, a := range rf.Apps {
		for _, port := range []int{a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, a.DaprInternalGRPCPort} {
			if port > 0 {
				p.reserved[port] = true
			}
		}
	}
	return p
}

// take returns fixed, or a free port (deploy/local/freeport) that no app of the run file names.
func (p *portPool) take(fixed int) (int, error) {
	if fixed > 0 {
		return fixed, nil
	}
	for range 100 {
		port, err := freeport.Get()
		if err != nil {
			return 0, err
		}
		if !p.reserved[port] {
			p.reserved[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port outside those dapr.yaml names")
}

// prefixWriter writes each line with a prefix, as the Dapr CLI does on its console.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(p.w, p.prefix+string(p.buf[:i+1])); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
