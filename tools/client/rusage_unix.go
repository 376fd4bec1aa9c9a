//go:build unix

package client

import (
	"syscall"
	"time"
)

type cpuTimes struct{ user, sys time.Duration }

// processCPU returns the CPU time of the whole process.
func processCPU() cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}
	}
	return cpuTimes{user: time.Duration(ru.Utime.Nano()), sys: time.Duration(ru.Stime.Nano())}
}
