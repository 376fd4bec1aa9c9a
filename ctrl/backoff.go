package ctrl

import "time"

// backoff is the wait between two attempts at something that is not there
// yet (a NATS server, a bucket, a registry answer): it doubles from its
// first value up to max.
type backoff struct{ next, max time.Duration }

// sleep waits the next wait, then doubles it for the time after; it
// reports false, at once, when done is closed first.
func (b *backoff) sleep(done <-chan struct{}) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
	}
	b.next = min(2*b.next, b.max)
	return true
}
