// Package poll waits for a condition by asking it again, up to a deadline: what a test does
// instead of sleeping in place of a condition.
package poll

import "time"

// Until calls cond every interval until it returns true or within has passed, and reports whether
// it did. The caller asserts.
func Until(within, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
