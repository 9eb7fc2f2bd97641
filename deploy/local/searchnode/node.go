// Package searchnode runs one OpenSearch 2.19 node on 127.0.0.1 for the tests of the search service's
// Elasticsearch adapter: the conformance suite and the search e2e tests on that backend. The jars
// come from Maven Central (deploy/local/java/opensearch/pom.xml, resolved by deploy/local/java.sh);
// SearchNode.java beside the pom is compiled once into the cache.
//
// go-elasticsearch v8 refuses a server that does not answer with X-Elastic-Product: Elasticsearch,
// and OpenSearch does not send it. The node is therefore reached through a reverse proxy on
// loopback that adds that one header to every answer and changes nothing else (URL is the proxy's
// address; DirectURL the node's own). Every other difference met between the two servers is listed
// in the README.
package searchnode

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/deploy/local/procgroup"
)

// Options shape the node.
type Options struct {
	// Dir holds the node's data, configuration and logs.
	Dir string
	// Classpath is the file deploy/local/java.sh opensearch wrote ("" reads OPENSEARCH_CLASSPATH).
	Classpath string
	// Log receives the node's output ("" writes Dir/opensearch.log).
	Log string
	// HeapMB bounds the heap (default 512).
	HeapMB int
}

// Node is a running OpenSearch node and its header-adding proxy.
type Node struct {
	// URL is the proxy that go-elasticsearch talks to; DirectURL is the node itself.
	URL, DirectURL string
	srv            *procgroup.Server
	proxy          *http.Server
}

// Start compiles the launcher if needed, starts the node on free ports and waits until its cluster
// is at least yellow.
func Start(o Options) (*Node, error) {
	if o.Dir == "" {
		return nil, errors.New("opensearch: a directory is required")
	}
	if o.HeapMB <= 0 {
		o.HeapMB = 512
	}
	if o.Classpath == "" {
		o.Classpath = os.Getenv("OPENSEARCH_CLASSPATH")
	}
	if o.Classpath == "" {
		return nil, errors.New("opensearch: no classpath; make sets OPENSEARCH_CLASSPATH (deploy/local/java.sh opensearch)")
	}
	cpb, err := os.ReadFile(o.Classpath)
	if err != nil {
		return nil, fmt.Errorf("opensearch: classpath: %w", err)
	}
	cp := strings.TrimSpace(string(cpb))
	classes, err := compile(cp)
	if err != nil {
		return nil, err
	}
	if o.Log == "" {
		o.Log = filepath.Join(o.Dir, "opensearch.log")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	httpPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	transportPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(java("java"), fmt.Sprintf("-Xmx%dm", o.HeapMB), fmt.Sprintf("-Xms%dm", o.HeapMB),
		"-XX:+UseG1GC", "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8",
		// What the distribution's jvm.options sets and the node checks for.
		"-Dlog4j2.formatMsgNoLookups=true", "-Dio.netty.allocator.numDirectArenas=0",
		"-cp", cp+string(os.PathListSeparator)+classes, "SearchNode",
		filepath.Join(o.Dir, "home"), fmt.Sprint(httpPort), fmt.Sprint(transportPort))
	srv, err := procgroup.Start("opensearch", o.Log, cmd)
	if err != nil {
		return nil, err
	}
	n := &Node{DirectURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), srv: srv}
	if err := srv.WaitUntil(90*time.Second, 200*time.Millisecond, "healthy (yellow)",
		procgroup.Answers200(n.DirectURL+"/_cluster/health?wait_for_status=yellow&timeout=1s")); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startProxy(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// startProxy serves URL: the node's answers with X-Elastic-Product: Elasticsearch added.
func (n *Node) startProxy() error {
	target, _ := url.Parse(n.DirectURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("X-Elastic-Product", "Elasticsearch")
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	n.proxy = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.proxy.Serve(l) }()
	n.URL = "http://" + l.Addr().String()
	return nil
}

// Close stops the proxy and the node (SIGTERM, then SIGKILL after 20 s).
func (n *Node) Close() {
	if n.proxy != nil {
		_ = n.proxy.Close()
	}
	n.srv.Stop(20 * time.Second)
}

// compile turns SearchNode.java into a class directory in the cache, once per source and classpath.
func compile(cp string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "java", "opensearch", "SearchNode.java")
	body, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("opensearch: %w", err)
	}
	sum := sha256.Sum256(append(body, cp...))
	cache := os.Getenv("ACME_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "acme-platform")
	}
	dir := filepath.Join(cache, "classes", "searchnode-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "SearchNode.class")); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	if out, err := exec.Command(java("javac"), "-d", tmp, "-cp", cp, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("opensearch: javac SearchNode.java: %v: %s", err, out)
	}
	_ = os.RemoveAll(dir)
	return dir, os.Rename(tmp, dir)
}

// java finds a JDK tool: JAVA_HOME's, or the one on PATH.
func java(tool string) string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		return filepath.Join(h, "bin", tool)
	}
	return tool
}
