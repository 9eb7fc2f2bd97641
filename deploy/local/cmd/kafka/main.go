// Command kafka prepares a data directory and becomes the Apache Kafka broker of make run (exec, so
// make infra's pid file and signals reach the JVM itself), on 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/acme/platform/deploy/local/kafkabroker"
)

func main() {
	port := flag.Int("port", 9092, "client port on 127.0.0.1")
	ctrl := flag.Int("controller-port", 9093, "KRaft controller port on 127.0.0.1")
	dir := flag.String("data", "", "data directory, formatted once and kept across restarts")
	parts := flag.Int("partitions", 3, "partitions of an auto-created topic")
	cp := flag.String("classpath", "", "classpath file of deploy/local/java.sh kafka (default: KAFKA_CLASSPATH)")
	flag.Parse()
	o, args, err := kafkabroker.Command(kafkabroker.Options{Port: *port, ControllerPort: *ctrl, DataDir: *dir,
		Partitions: *parts, Classpath: *cp})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	java, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("kafka: 127.0.0.1:%d (controller %d), data in %s\n", o.Port, o.ControllerPort, *dir)
	err = syscall.Exec(java, args, os.Environ())
	fmt.Fprintln(os.Stderr, "kafka:", err)
	os.Exit(1)
}
