package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/acme/platform/services/platform/config"
)

// App is what Main hands a service's run function: its configuration and logger, and the lifecycle
// of what run starts. A background loop started with Go runs until the app stops; what is registered
// with OnStop (or Closes) is closed after every loop has returned, the last registered first. run's
// own defers run before either, so nothing a loop uses may be closed with defer.
type App struct {
	Name string
	Env  *config.Env
	Log  *slog.Logger

	work    context.Context
	fail    context.CancelCauseFunc
	loops   sync.WaitGroup
	mu      sync.Mutex
	closers []func()
}

// Go runs loop in the background with a context that ends when the app stops. A loop that returns
// an error while the app runs stops the app, which then exits with that error: a platform that
// stopped relaying or archiving must not look healthy.
func (a *App) Go(name string, loop func(ctx context.Context) error) {
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		err := loop(a.work)
		if a.work.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("returned while the app was running")
		}
		a.Log.Error("background loop failed; stopping", "loop", name, "error", err)
		a.fail(fmt.Errorf("%s: %w", name, err))
	}()
}

// OnStop registers fn to run once every loop has returned.
func (a *App) OnStop(fn func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closers = append(a.closers, fn)
}

// Closes registers c to be closed once every loop has returned.
func (a *App) Closes(c io.Closer) { a.OnStop(func() { _ = c.Close() }) }

// LoopsTimeout bounds how long Main waits for the loops to return once the app stops.
const LoopsTimeout = 15 * time.Second

// runApp runs run, then stops the loops, waits for them (bounded) and runs the closers. It returns
// run's error, or the failure of a loop that stopped the app.
func runApp(parent context.Context, a *App, run func(ctx context.Context, a *App) error) error {
	ctx, fail := context.WithCancelCause(parent)
	defer fail(nil)
	work, stopWork := context.WithCancel(ctx)
	a.work, a.fail = work, fail
	err := run(ctx, a)
	stopWork()
	done := make(chan struct{})
	go func() { a.loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(LoopsTimeout):
		a.Log.Error("background loops still running after the stop; closing anyway", "waited", LoopsTimeout)
	}
	a.mu.Lock()
	closers := a.closers
	a.closers = nil
	a.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // a loop failed
	}
	return nil
}

// Every runs fn now and then every interval until ctx ends: the shape of a periodic worker started
// with Go (invoicing, reconciliation, expiry). fn reports its own errors; the loop goes on.
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
