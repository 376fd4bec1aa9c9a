package xrtc

import "sync/atomic"

// stackZero is always 0: growStack reads it so that the compiler keeps its
// frame.
var stackZero atomic.Int32

// growStack grows the calling goroutine's stack, at once, to hold about
// 16 KiB more than its caller's frame. A goroutine starts with a small
// stack that the runtime doubles, copying it each time, as calls go
// deeper; a serial queue's goroutine handling a Verto request goes about
// that deep (JSON decoding, the channel, the reply, the log line), and
// copied its stack three or four times for each burst of work: 16% of the
// CPU of BenchmarkVertoMessages. Called first, it is grown when there is
// almost nothing to copy.
//
//go:noinline
func growStack() byte {
	var frame [16 << 10]byte
	i := stackZero.Load()
	frame[i] = 1
	return frame[i/2]
}
