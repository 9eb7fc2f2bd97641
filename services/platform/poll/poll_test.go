package poll

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("a condition met on the third ask: %d asks", n)
	}
	start := time.Now()
	if Until(20*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition never met was reported met")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("gave up before the deadline")
	}
}
