package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Processes: starting an app and its sidecar, stopping and killing them, and what is left after.

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
	a.daprCmd.Env = append(os.Environ(), "DAPR_HOST_IP=127.0.0.1", "DAPR_API_TOKEN="+a.APIToken, "APP_API_TOKEN="+a.AppToken)
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

// ProcessGroups are the process groups of the app (with what `go run` started) and of its daprd;
// 0 for one not started. The load harness reads their CPU time from /proc.
func (a *App) ProcessGroups() (app, sidecar int) {
	if a.appCmd != nil && a.appCmd.Process != nil {
		app = a.appCmd.Process.Pid
	}
	if a.daprCmd != nil && a.daprCmd.Process != nil {
		sidecar = a.daprCmd.Process.Pid
	}
	return app, sidecar
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

// PGIDs are the process groups this topology started (an app, a sidecar: one group each).
func (t *Topology) PGIDs() []int { return t.allPGIDs() }

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
	var out []int
	for _, p := range Processes() {
		if p.State != "Z" && want[p.PGID] {
			out = append(out, p.PID)
		}
	}
	return out
}

// Process is one line of /proc/<pid>/stat, the fields read here.
type Process struct {
	PID, PGID   int
	Comm, State string
	// CPU is the user and system time it used so far.
	CPU time.Duration
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// Processes reads every process's stat line.
func Processes() []Process {
	entries, _ := os.ReadDir("/proc")
	var out []Process
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
		out = append(out, Process{PID: pid, PGID: pg, Comm: s[open+1 : end], State: rest[0], CPU: time.Duration(ut+st) * clockTick})
	}
	return out
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
