package server

import (
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"testing"
)

// GOGC defaults to 300 where the environment sets none, and is left alone where it does; a
// GOMEMLIMIT in the environment is left alone too.
func TestTuneMemory_DefaultsGOGCAndRespectsTheEnvironment(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOMEMLIMIT", "512MiB") // set: automemlimit leaves the limit as it is
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC") // restored by Setenv's cleanup
	if gogc, _ := tuneMemory(log); gogc != gcPercent || debug.SetGCPercent(100) != gcPercent {
		t.Fatalf("GOGC unset: %d in force, want %d", gogc, gcPercent)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // what the runtime read from GOGC at start
	if gogc, _ := tuneMemory(log); gogc != 150 || debug.SetGCPercent(100) != 150 {
		t.Fatalf("GOGC=150: %d in force", gogc)
	}
}
