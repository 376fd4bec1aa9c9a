//go:build freeswitch

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/verto"
)

// TestSchedulingMeasurement measures what Debian's FreeSWITCH unit
// (CPUSchedulingPolicy=rr, CPUSchedulingPriority=89, FreeSWITCH's own
// priority setting on: no -np) does to the Go runtime's threads inside
// FreeSWITCH, and what Go work in the module does to FreeSWITCH's media
// then, against FreeSWITCH at normal priority (-np). It is a measurement,
// not a check: run it by hand (it needs chrt and permission for real-time
// scheduling) and read the log:
//
//	XRTC_MEASURE_SCHED=1 flock /tmp/freeswitch.lock go test -tags freeswitch \
//	    -run TestSchedulingMeasurement -v ./module/freeswitch/integration/
//
// For each setup it lists the scheduling class of the threads the Go
// runtime started, then plays a 440 Hz tone from FreeSWITCH to a client
// for 10 s idle and 10 s while 4 NATS clients flood the node with 32 KiB
// verto.echo requests (Go allocation and GC in the module), and reports
// the inter-arrival gaps of the tone's RTP at the client and the CPU the
// FreeSWITCH process used.
func TestSchedulingMeasurement(t *testing.T) {
	if os.Getenv("XRTC_MEASURE_SCHED") == "" {
		t.Skip("a measurement, run by hand: XRTC_MEASURE_SCHED=1 (see the doc comment)")
	}
	if _, err := exec.LookPath("chrt"); err != nil {
		t.Skip("no chrt")
	}
	for _, setup := range []struct {
		name string
		opt  fsOption
	}{
		{"debian-unit (chrt -r 89, no -np)", fsOption{wrap: []string{"chrt", "-r", "89"}, autoPriority: true}},
		{"normal priority (-np)", fsOption{}},
	} {
		t.Run(setup.name, func(t *testing.T) { measureSched(t, setup.opt) })
	}
}

func measureSched(t *testing.T, opt fsOption) {
	f := startFreeSWITCH(t, xrtcConf, opt)
	before := threads(t, f.pid)
	x := startXCtrl(t, f)
	node := testLoad(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_ = x.WaitNodes(ctx, func(ns []verto.Node) bool { return len(ns) > 0 })
	cancel()
	after := threads(t, f.pid)
	classes := map[string]int{}
	for tid, cls := range after {
		if _, ok := before[tid]; !ok {
			classes[cls]++
		}
	}
	mainCls := before[f.pid]
	t.Logf("FreeSWITCH main thread: %s; threads started by loading mod_xrtc (the Go runtime): %v", mainCls, classes)

	p := dialPeer(t, x.WSURL(), "1001")
	c := p.call("xrtc-tone")
	defer hangupAll(t, f)
	time.Sleep(2 * time.Second) // let the call settle before measuring (the client keeps sending: media-timeout)

	window := func(label string, load bool) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var sent int64
		var mu sync.Mutex
		if load {
			payload := strings.Repeat("x", 32<<10)
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						m, _ := verto.NewRequest(verto.StringID(strconv.Itoa(n)), verto.MethodEcho, map[string]any{"blob": payload})
						b, _ := m.Marshal()
						if _, err := f.nc.Request(verto.DefaultSubjects().Node(node), b, 5*time.Second); err == nil {
							mu.Lock()
							sent++
							mu.Unlock()
						}
					}
				}()
			}
		}
		cpu0 := procCPU(t, f.pid)
		c.sock.recordArrivals(true)
		start := time.Now()
		time.Sleep(10 * time.Second) // the measurement window
		arr := c.sock.recordArrivals(false)
		elapsed := time.Since(start)
		cpu := procCPU(t, f.pid) - cpu0
		close(stop)
		wg.Wait()
		t.Logf("%-5s %s; FreeSWITCH CPU %.0f%% of one core; %d echo requests answered",
			label, gapStats(arr), 100*cpu.Seconds()/elapsed.Seconds(), sent)
	}
	window("idle", false)
	window("load", true)
}

// threads maps each thread of pid to its scheduling class and priority
// (ps: TS = normal, RR / FF = real-time).
func threads(t *testing.T, pid int) map[int]string {
	out, err := exec.Command("ps", "-L", "-o", "tid=,cls=,rtprio=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	m := map[int]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		tid, _ := strconv.Atoi(f[0])
		m[tid] = f[1] + " " + f[2]
	}
	return m
}

// procCPU is the CPU time pid used so far (utime + stime).
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// gapStats describes the gaps between RTP arrivals (20 ms nominal).
func gapStats(arr []time.Time) string {
	if len(arr) < 2 {
		return fmt.Sprintf("%d packets", len(arr))
	}
	gaps := make([]time.Duration, 0, len(arr)-1)
	late := 0
	for i := 1; i < len(arr); i++ {
		g := arr[i].Sub(arr[i-1])
		gaps = append(gaps, g)
		if g > 40*time.Millisecond {
			late++
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	q := func(p float64) time.Duration { return gaps[int(p*float64(len(gaps)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("%d packets, gap p50 %s p99 %s p99.9 %s max %s, %d gaps over 40 ms",
		len(arr), q(0.5), q(0.99), q(0.999), gaps[len(gaps)-1].Round(100*time.Microsecond), late)
}
