package freeport

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// Ports come from below the kernel's ephemeral range, are free when handed out, and are never
// handed out twice, however many callers ask at once.
func TestGet_FreeDistinctPortsOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := pool()
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				p, err := Get()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[p] {
					t.Errorf("port %d handed out twice", p)
				}
				seen[p] = true
				mu.Unlock()
				if p < lo || p > hi {
					t.Errorf("port %d outside %d-%d", p, lo, hi)
				}
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				if err != nil {
					t.Errorf("port %d is not free: %v", p, err)
					continue
				}
				l.Close()
			}
		}()
	}
	wg.Wait()
}

// A port whose lock file another process of ours holds is not handed out.
func TestGet_SkipsPortsClaimedByOthers(t *testing.T) {
	// A lock directory of this test's own: the shared one is also used by whatever else of ours
	// runs on the machine (other test packages, make run), which may claim any port of the pool.
	sharedDir := dir
	dir = t.TempDir()
	sharedHeld := held
	held = map[int]*os.File{}
	defer func() {
		for _, f := range held {
			f.Close()
		}
		dir, held = sharedDir, sharedHeld
	}()
	base := threeListenablePorts(t)
	pool = func() (int, int) { return base, base + 2 }
	defer func() { pool = belowEphemeral }()
	for _, p := range []int{base, base + 1} {
		// Another open file description of the lock file, as another process would hold it.
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Get()
	if err != nil || p != base+2 {
		t.Fatalf("got %d, %v; want %d, the one port nobody claimed", p, err, base+2)
	}
	if p, err := Get(); err == nil {
		t.Fatalf("got %d from an exhausted pool", p)
	}
}

// threeListenablePorts finds three consecutive ports of the pool no listener holds right now.
func threeListenablePorts(t *testing.T) int {
	lo, hi := belowEphemeral()
	for base := lo + 5000; base+2 <= hi; base += 3 {
		ok := true
		for p := base; p <= base+2 && ok; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no three consecutive free ports")
	return 0
}
