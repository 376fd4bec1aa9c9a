package main

import (
	"time"

	"xccrtc/tools/client"
)

func clientProgress(elapsed, d time.Duration) client.LoadProgress {
	return client.LoadProgress{Elapsed: elapsed, Duration: d, Started: 3, Active: 2}
}
