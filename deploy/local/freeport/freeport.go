// Package freeport picks free TCP ports on 127.0.0.1 for servers other processes open (daprd's
// listeners, Kafka's, OpenSearch's), which take port numbers, not sockets.
//
// A port that listen(":0") reports free is an ephemeral port: any outgoing connection on the
// machine may be given it before the server binds it. Ports here come from below the kernel's
// ephemeral range instead, which it never hands out by itself, and each is claimed with an advisory
// lock file held for the life of this process, so two launchers (make run beside the e2e suite,
// parallel test packages) never pick the same one. What is left is another program binding that
// very number on purpose; the server's start then fails with its log, and no caller loops on it.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var (
	mu    sync.Mutex
	held  = map[int]*os.File{}
	dir   = filepath.Join(os.TempDir(), "acme-freeport")
	tries = 200
)

// Get returns a port that no listener on 127.0.0.1 holds and no other process of ours has claimed;
// it stays claimed until this process exits.
func Get() (int, error) {
	lo, hi := pool()
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, err
	}
	for range tries {
		port := lo + rand.IntN(hi-lo+1)
		if held[port] != nil {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // another process of ours has it
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			continue
		}
		l.Close()
		held[port] = f
		return port, nil
	}
	return 0, fmt.Errorf("freeport: no free port in %d-%d after %d tries", lo, hi, tries)
}

// pool is the range ports come from: the 12,000 ports below the kernel's ephemeral range (Linux's
// default range starts at 32768, so 20768-32767).
var pool = belowEphemeral

func belowEphemeral() (int, int) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 13024 {
				lo = n
			}
		}
	}
	return lo - 12000, lo - 1
}
