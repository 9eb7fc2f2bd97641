// Command kafka runs the local Kafka-protocol broker on 127.0.0.1 until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/acme/platform/deploy/local/kafkabroker"
)

func main() {
	port := flag.Int("port", 9092, "port on 127.0.0.1")
	dir := flag.String("data", "", "directory that keeps topics and offsets across restarts")
	parts := flag.Int("partitions", 3, "partitions of an auto-created topic")
	topics := flag.String("topics", "", "comma-separated topics to create at start")
	flag.Parse()
	var seed []string
	if *topics != "" {
		seed = strings.Split(*topics, ",")
	}
	c, err := kafkabroker.Start(kafkabroker.Options{Port: *port, DataDir: *dir, Partitions: *parts, Topics: seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("kafka broker listening on", strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
