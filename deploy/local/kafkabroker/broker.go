// Package kafkabroker runs Apache Kafka 3.6 as one KRaft node (broker and controller in one process)
// on 127.0.0.1, from the jars deploy/local/java.sh resolves from Maven Central. make infra runs it for
// make run (command kafka); the e2e suite starts its own on free ports with its own data directory,
// and kills and restarts it to prove the event path survives a broker crash.
package kafkabroker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/platform/deploy/local/freeport"
	"github.com/acme/platform/deploy/local/procgroup"
)

// Options shape the broker.
type Options struct {
	// Port of the client listener and of the controller listener, 127.0.0.1 only; 0 picks a free one.
	Port, ControllerPort int
	// DataDir holds the log and the configuration; it is formatted once and kept across restarts.
	DataDir string
	// Partitions of an auto-created topic.
	Partitions int
	// Classpath is the file deploy/local/java.sh wrote ("" reads KAFKA_CLASSPATH).
	Classpath string
	// Java is the java command ("" takes JAVA_HOME's, or java from PATH).
	Java string
	// Log receives the broker's output ("" writes DataDir/kafka.log).
	Log string
	// HeapMB bounds the broker's heap (default 512).
	HeapMB int
}

// Broker is a running Kafka node.
type Broker struct {
	// Addr is the client listener, host:port.
	Addr string
	opts Options
	srv  *procgroup.Server // nil while it is not running
}

// Command prepares DataDir (configuration, and the KRaft format on first use) and returns the options
// with every default filled in and the command line that runs the broker, for a caller that runs it
// itself.
func Command(o Options) (*Options, []string, error) {
	if o.DataDir == "" {
		return nil, nil, errors.New("kafka: a data directory is required")
	}
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	if o.HeapMB <= 0 {
		o.HeapMB = 512
	}
	if o.Classpath == "" {
		o.Classpath = os.Getenv("KAFKA_CLASSPATH")
	}
	if o.Classpath == "" {
		return nil, nil, errors.New("kafka: no classpath; make sets KAFKA_CLASSPATH (deploy/local/java.sh kafka)")
	}
	cpb, err := os.ReadFile(o.Classpath)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka: classpath: %w", err)
	}
	if o.Java == "" {
		o.Java = "java"
		if h := os.Getenv("JAVA_HOME"); h != "" {
			o.Java = filepath.Join(h, "bin", "java")
		}
	}
	for _, p := range []*int{&o.Port, &o.ControllerPort} {
		if *p == 0 {
			if *p, err = freeport.Get(); err != nil {
				return nil, nil, err
			}
		}
	}
	if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
		return nil, nil, err
	}
	if o.Log == "" {
		o.Log = filepath.Join(o.DataDir, "kafka.log")
	}
	logDir := filepath.Join(o.DataDir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, nil, err
	}
	props := filepath.Join(o.DataDir, "server.properties")
	if err := os.WriteFile(props, []byte(serverProperties(&o, logDir)), 0o644); err != nil {
		return nil, nil, err
	}
	log4j := filepath.Join(o.DataDir, "log4j.properties")
	if err := os.WriteFile(log4j, []byte(log4jProperties), 0o644); err != nil {
		return nil, nil, err
	}
	jvm := []string{o.Java, fmt.Sprintf("-Xmx%dm", o.HeapMB), fmt.Sprintf("-Xms%dm", min(o.HeapMB, 128)),
		"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:" + log4j, "-cp", strings.TrimSpace(string(cpb))}
	// The node's identity is written once; a restart keeps the log and its cluster id.
	if _, err := os.Stat(filepath.Join(logDir, "meta.properties")); errors.Is(err, os.ErrNotExist) {
		out, err := exec.Command(jvm[0], append(jvm[1:], "kafka.tools.StorageTool", "format", "--ignore-formatted",
			"-t", clusterID(), "-c", props)...).CombinedOutput()
		if err != nil {
			return nil, nil, fmt.Errorf("kafka: format %s: %v: %s", logDir, err, out)
		}
	}
	return &o, append(jvm, "kafka.Kafka", props), nil
}

// Start prepares DataDir and starts the broker in a process group of its own; it returns once the
// broker answers on its port.
func Start(o Options) (*Broker, error) {
	opts, _, err := Command(o)
	if err != nil {
		return nil, err
	}
	b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", opts.Port), opts: *opts}
	return b, b.start()
}

func (b *Broker) start() error {
	_, args, err := Command(b.opts)
	if err != nil {
		return err
	}
	srv, err := procgroup.Start("kafka", b.opts.Log, exec.Command(args[0], args[1:]...))
	if err != nil {
		return err
	}
	b.srv = srv
	err = srv.WaitUntil(60*time.Second, 100*time.Millisecond, "answering on "+b.Addr, func() bool {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	switch {
	case err != nil && srv.Exited():
		b.srv = nil
	case err != nil:
		b.Kill()
	}
	return err
}

// Kill ends the broker with SIGKILL, as a crash would: no flush, no controlled shutdown.
func (b *Broker) Kill() {
	if b.srv == nil {
		return
	}
	b.srv.Kill()
	b.srv = nil
}

// Restart starts a killed or closed broker again on the same ports and data.
func (b *Broker) Restart() error {
	if b.srv != nil {
		return errors.New("kafka: the broker is running")
	}
	return b.start()
}

// Close shuts the broker down (SIGTERM: a controlled shutdown), and kills it after 20 s.
func (b *Broker) Close() {
	if b.srv == nil {
		return
	}
	b.srv.Stop(20 * time.Second)
	b.srv = nil
}

// Pid is the broker process's id (0 when it is not running).
func (b *Broker) Pid() int {
	if b.srv == nil {
		return 0
	}
	return b.srv.PID()
}

func serverProperties(o *Options, logDir string) string {
	return fmt.Sprintf(`# Written by kafkabroker: a single KRaft node on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=%[4]d
auto.create.topics.enable=true
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# A restarted node registers again only once its previous registration has expired: 4 s, not 9 s.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
# A consumer group forms at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
`, o.Port, o.ControllerPort, logDir, o.Partitions)
}

const log4jProperties = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
`

// clusterID is a new KRaft cluster id as Kafka's Uuid.randomUuid makes one: 16 random bytes in
// unpadded URL-safe base64, never starting with '-' (the tools would read it as a flag).
func clusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}
