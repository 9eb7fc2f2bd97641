package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/config"
)

func newApp() *App { return &App{Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil))} }

// recorder notes the order of events from several goroutines.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// A loop is still running when run returns (the app was asked to stop); it is stopped and awaited
// before anything closes, and closers run last registered first.
func TestApp_LoopsStopBeforeAnythingCloses(t *testing.T) {
	var r recorder
	parent, stop := context.WithCancel(context.Background())
	err := runApp(parent, newApp(), func(ctx context.Context, a *App) error {
		a.OnStop(func() { r.add("close pool") })
		a.OnStop(func() { r.add("close client") })
		for _, name := range []string{"relay", "archiver"} {
			a.Go(name, func(ctx context.Context) error {
				<-ctx.Done()
				time.Sleep(20 * time.Millisecond) // the loop's last round of work, which the closers must not overtake; not a wait
				r.add(name + " returned")
				return ctx.Err()
			})
		}
		stop() // SIGTERM
		<-ctx.Done()
		r.add("served")
		return nil
	})
	if err != nil {
		t.Fatalf("a stop asked for is not an error: %v", err)
	}
	want := []string{"served", "archiver returned", "relay returned", "close client", "close pool"}
	got := r.events
	slices.Sort(got[1:3])
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// A loop that fails while the app runs stops the app, which reports the loop's error.
func TestApp_AFailingLoopStopsTheApp(t *testing.T) {
	boom := errors.New("broker credentials rejected")
	closed := false
	err := runApp(context.Background(), newApp(), func(ctx context.Context, a *App) error {
		a.OnStop(func() { closed = true })
		a.Go("relay", func(context.Context) error { return boom })
		<-ctx.Done() // the server stops serving because the app is stopping
		return nil
	})
	if !errors.Is(err, boom) || !closed {
		t.Fatalf("err %v (want the loop's), closed %v", err, closed)
	}
}

// A loop that returns without an error while the app runs has stopped working just the same.
func TestApp_ALoopThatEndsEarlyStopsTheApp(t *testing.T) {
	err := runApp(context.Background(), newApp(), func(ctx context.Context, a *App) error {
		a.Go("dispatcher", func(context.Context) error { return nil })
		<-ctx.Done()
		return nil
	})
	if err == nil {
		t.Fatal("a loop that ended early went unnoticed")
	}
}

// An error of run itself wins, and the loops and closers still run down.
func TestApp_RunErrorStillStopsLoopsAndCloses(t *testing.T) {
	boom := errors.New("listen: address in use")
	var r recorder
	err := runApp(context.Background(), newApp(), func(ctx context.Context, a *App) error {
		a.OnStop(func() { r.add("closed") })
		a.Go("relay", func(ctx context.Context) error { <-ctx.Done(); r.add("relay returned"); return nil })
		return boom
	})
	if !errors.Is(err, boom) || !slices.Equal(r.events, []string{"relay returned", "closed"}) {
		t.Fatalf("err %v, events %v", err, r.events)
	}
}

// Every runs at once, then each interval, and returns when the context ends.
func TestEvery_RunsAtOnceThenEachIntervalUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	err := Every(ctx, time.Millisecond, func(context.Context) {
		runs++
		if runs == 3 {
			cancel()
		}
	})
	if err != nil || runs != 3 {
		t.Fatalf("%v after %d runs", err, runs)
	}
}

// Metrics are served on METRICS_LISTEN_HOST when set (the pod's IP on Kubernetes, while the app
// stays on 127.0.0.1), else on LISTEN_HOST; not at all without APP_METRICS_PORT.
func TestMetricsAddr(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"APP_METRICS_PORT": "9091"}, "127.0.0.1:9091"},
		{map[string]string{"APP_METRICS_PORT": "9091", "LISTEN_HOST": "10.1.2.3"}, "10.1.2.3:9091"},
		{map[string]string{"APP_METRICS_PORT": "9091", "METRICS_LISTEN_HOST": "10.1.2.3"}, "10.1.2.3:9091"},
	} {
		if got := metricsAddr(config.FromMap(c.env)); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
}
