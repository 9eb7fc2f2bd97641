package e2e

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/acme/platform/deploy/local/launcher"
)

// Every socket the suite's topology listens on (apps, sidecars, the trace store, Prometheus) is
// bound to 127.0.0.1: nothing is reachable from the network. Read from the kernel's socket tables,
// matched to the processes by their open file descriptors.
func TestNetwork_EveryListenerOfTheTopologyIsOnLoopback(t *testing.T) {
	groups := map[int]bool{env.traces.PID(): true, env.prom.PID(): true}
	for _, g := range env.topo.PGIDs() {
		groups[g] = true
	}
	owner := map[string]string{} // socket inode → "comm (pid)"
	for _, p := range launcher.Processes() {
		if !groups[p.PGID] {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID))
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.PID, fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
				owner[strings.TrimSuffix(inode, "]")] = fmt.Sprintf("%s (%d)", p.Comm, p.PID)
			}
		}
	}
	listening := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, l := range listeners(t, table) {
			who, ours := owner[l.inode]
			if !ours {
				continue
			}
			listening++
			if !l.addr.IsLoopback() || l.addr.To4() == nil || !l.addr.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("%s listens on %s:%d, not 127.0.0.1", who, l.addr, l.port)
			}
		}
	}
	t.Logf("%d listening sockets among %d sockets of the topology's processes", listening, len(owner))
	// Each app and sidecar listens on several ports; far fewer means the matching found nothing.
	if listening < 3*len(env.topo.Apps) {
		t.Fatalf("found %d listening sockets of the topology's processes, want at least %d", listening, 3*len(env.topo.Apps))
	}
}

type listener struct {
	addr  net.IP
	port  int
	inode string
}

// listeners reads the LISTEN sockets (state 0A) of a /proc/net/tcp{,6} table.
func listeners(t *testing.T, path string) []listener {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []listener
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		host, port, _ := strings.Cut(fields[1], ":")
		raw, err := hex.DecodeString(host)
		if err != nil {
			t.Fatalf("%s: %q", path, fields[1])
		}
		// The kernel prints each 32-bit word of the address in host (little-endian) order.
		for i := 0; i+4 <= len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		p, _ := strconv.ParseInt(port, 16, 32)
		out = append(out, listener{addr: net.IP(raw), port: int(p), inode: fields[9]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
