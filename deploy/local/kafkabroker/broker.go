// Package kafkabroker runs a Kafka-protocol broker (franz-go's kfake) on 127.0.0.1, for machines with no
// Kafka server: make infra runs it as a process, the e2e tests in-process on a free port.
package kafkabroker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options shape the broker.
type Options struct {
	// Port to listen on, 127.0.0.1 only; 0 picks a free one.
	Port int
	// DataDir keeps topics and committed offsets across restarts; "" keeps them in memory.
	DataDir string
	// Partitions of an auto-created topic.
	Partitions int
	// Topics to create at start.
	Topics []string
}

// Start starts a broker; Close it when done.
func Start(o Options) (*kfake.Cluster, error) {
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(o.Port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka broker: %w", err)
	}
	return c, nil
}
