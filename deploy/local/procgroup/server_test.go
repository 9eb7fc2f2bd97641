package procgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/poll"
)

// A server's output goes to its log; waiting for it ends at once when it exits, with an error that
// names the log, and after its time when it never gets ready; Stop ends its whole group, once.
func TestServer_LogsWaitsAndStops(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sub", "quits.log")
	quits, err := Start("quits", log, exec.Command("sh", "-c", "echo started; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	begun := time.Now()
	err = quits.WaitUntil(time.Minute, 10*time.Millisecond, "ready", func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), log) {
		t.Fatalf("waiting for a server that exits: %v", err)
	}
	if time.Since(begun) > 30*time.Second {
		t.Errorf("the wait went on after the server had exited")
	}
	if b, _ := os.ReadFile(log); string(b) != "started\n" {
		t.Errorf("log %q", b)
	}

	// A child in the background keeps the group alive after its leader is told to stop.
	sleeper, err := Start("sleeps", filepath.Join(t.TempDir(), "sleeps.log"), exec.Command("sh", "-c", "sleep 60 & wait"))
	if err != nil {
		t.Fatal(err)
	}
	err = sleeper.WaitUntil(50*time.Millisecond, 10*time.Millisecond, "ready", func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "not ready within") {
		t.Fatalf("waiting for a server that never gets ready: %v", err)
	}
	if sleeper.Exited() {
		t.Fatal("exited before Stop")
	}
	sleeper.Stop(5 * time.Second)
	sleeper.Stop(5 * time.Second) // a second Stop signals nothing and returns
	if !sleeper.Exited() {
		t.Error("not exited after Stop")
	}
	// The child got the group's SIGTERM too: it is gone once the kernel has ended it.
	empty := poll.Until(5*time.Second, 10*time.Millisecond, func() bool {
		return exec.Command("pgrep", "-g", strconv.Itoa(sleeper.PID())).Run() != nil
	})
	if !empty {
		t.Error("a process is left in the group after Stop")
	}
}
