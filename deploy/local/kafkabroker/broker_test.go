package kafkabroker_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/platform/deploy/local/kafkabroker"
)

// The stand-in broker this package replaced lost acknowledged records when it was killed; a real
// Kafka keeps every record it acknowledged with acks=all through a SIGKILL and a restart, and its
// committed group offsets with it.
func TestAcknowledgedRecordsSurviveAKill(t *testing.T) {
	if os.Getenv("KAFKA_CLASSPATH") == "" {
		t.Fatal("KAFKA_CLASSPATH is not set; run the tests with make test (deploy/local/java.sh kafka)")
	}
	b, err := kafkabroker.Start(kafkabroker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, n = "crash.test", 500

	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint(i))}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	prod.Close()

	// A group consumes and commits the first half before the crash.
	group := func() *kgo.Client {
		c, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	seen := map[string]int{}
	c := group()
	for len(seen) < n/2 {
		fs := c.PollRecords(ctx, n/2-len(seen))
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d before the crash: %v", len(seen), n/2, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
		if err := c.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	b.Kill()
	restart := time.Now()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the broker answered %.1f s after the restart", time.Since(restart).Seconds())

	// After the restart the group resumes where it committed, and every record is there.
	c = group()
	defer c.Close()
	for len(seen) < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after the restart: %d of %d records: %v", len(seen), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	for i := 0; i < n; i++ {
		if got := seen[fmt.Sprint(i)]; got != 1 {
			t.Errorf("record %d consumed %d times by the group across the crash", i, got)
		}
	}
}
