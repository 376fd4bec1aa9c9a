//go:build !unix

package client

import "time"

type cpuTimes struct{ user, sys time.Duration }

// processCPU is not measured on this platform.
func processCPU() cpuTimes { return cpuTimes{} }
