package ctrl

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"xccrtc/verto"
)

// Metrics are XCtrl's Prometheus metrics, written in the text exposition
// format by hand (no client library): counters and one latency histogram
// kept with atomics, gauges read when scraped.
type Metrics struct {
	logins   [loginResults]atomic.Uint64
	toNode   map[string]*atomic.Uint64 // relayed client->node by method
	toClient map[string]*atomic.Uint64 // relayed node->client by method

	badFrames   atomic.Uint64
	rateLimited atomic.Uint64
	slowDropped atomic.Uint64
	nodeTimeout atomic.Uint64
	nodeSuspect atomic.Uint64

	relay histogram

	// gauges are read at scrape time.
	gauges func() []Gauge
}

// Gauge is one gauge sample.
type Gauge struct {
	Name, Help string
	Labels     string // `state="x"`, or ""
	Value      float64
}

// Login results counted in xctrl_logins_total{result}.
const (
	LoginOK = iota
	LoginFailed
	LoginThrottled
	LoginInUse
	loginResults
)

var loginResultNames = [loginResults]string{"ok", "failed", "throttled", "session_in_use"}

// relayBuckets are the latency histogram's upper bounds in seconds.
var relayBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts [17]atomic.Uint64 // len(relayBuckets)+1 (+Inf)
	sumNs  atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(relayBuckets, s)
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

func newMetrics() *Metrics {
	m := &Metrics{toNode: map[string]*atomic.Uint64{}, toClient: map[string]*atomic.Uint64{}}
	for _, meth := range append(verto.ClientMethods, "other") {
		m.toNode[meth] = new(atomic.Uint64)
	}
	for _, meth := range []string{verto.MethodInvite, verto.MethodMedia, verto.MethodAnswer, verto.MethodBye,
		verto.MethodAttach, verto.MethodDisplay, verto.MethodInfo, verto.MethodEvent, verto.MethodPrompt,
		verto.MethodMediaParams, verto.MethodModify, verto.MethodPunt, verto.MethodClientReady, verto.MethodPing,
		verto.MethodTrying, "other"} {
		m.toClient[meth] = new(atomic.Uint64)
	}
	return m
}

func (m *Metrics) login(result int) { m.logins[result].Add(1) }

func (m *Metrics) relayedToNode(method string) { count(m.toNode, method) }

func (m *Metrics) relayedToClient(method string) { count(m.toClient, method) }

func count(t map[string]*atomic.Uint64, method string) {
	c, ok := t[method]
	if !ok {
		c = t["other"]
	}
	c.Add(1)
}

// WriteTo writes every metric in the Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	head := func(name, typ, help string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	head("xctrl_logins_total", "counter", "Login attempts by result.")
	for i, n := range loginResultNames {
		fmt.Fprintf(bw, "xctrl_logins_total{result=%q} %d\n", n, m.logins[i].Load())
	}
	head("xctrl_relayed_total", "counter", "Verto messages relayed, by direction and method.")
	writeVec(bw, "to_node", m.toNode)
	writeVec(bw, "to_client", m.toClient)
	for _, c := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"xctrl_bad_frames_total", "Frames or messages answered with a JSON-RPC error before routing.", &m.badFrames},
		{"xctrl_rate_limited_total", "Messages refused by the per-socket rate limit.", &m.rateLimited},
		{"xctrl_slow_clients_dropped_total", "Sockets closed because their send queue overflowed.", &m.slowDropped},
		{"xctrl_node_timeouts_total", "Relayed requests that a node did not answer in time.", &m.nodeTimeout},
		{"xctrl_node_suspected_total", "Times a node got no responders or timed out and was taken out of the choice.", &m.nodeSuspect},
	} {
		head(c.name, "counter", c.help)
		fmt.Fprintf(bw, "%s %d\n", c.name, c.v.Load())
	}
	head("xctrl_relay_seconds", "histogram", "Client request to node reply written back to the client.")
	var cum uint64
	for i, b := range relayBuckets {
		cum += m.relay.counts[i].Load()
		fmt.Fprintf(bw, "xctrl_relay_seconds_bucket{le=%q} %d\n", strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += m.relay.counts[len(relayBuckets)].Load()
	fmt.Fprintf(bw, "xctrl_relay_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(bw, "xctrl_relay_seconds_sum %g\n", float64(m.relay.sumNs.Load())/1e9)
	fmt.Fprintf(bw, "xctrl_relay_seconds_count %d\n", cum)

	var gs []Gauge
	if m.gauges != nil {
		gs = m.gauges()
	}
	gs = append(gs, runtimeGauges()...)
	last := ""
	for _, g := range gs {
		if g.Name != last {
			head(g.Name, "gauge", g.Help)
			last = g.Name
		}
		if g.Labels != "" {
			fmt.Fprintf(bw, "%s{%s} %s\n", g.Name, g.Labels, fmtFloat(g.Value))
		} else {
			fmt.Fprintf(bw, "%s %s\n", g.Name, fmtFloat(g.Value))
		}
	}
	return 0, bw.Flush()
}

func writeVec(w io.Writer, dir string, t map[string]*atomic.Uint64) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "xctrl_relayed_total{direction=%q,method=%q} %d\n", dir, k, t[k].Load())
	}
}

func fmtFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// runtimeGauges are the Go runtime's memory figures and the process RSS,
// which the idle-socket memory benchmark reads.
func runtimeGauges() []Gauge {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gs := []Gauge{
		{Name: "go_goroutines", Help: "Goroutines.", Value: float64(runtime.NumGoroutine())},
		{Name: "go_memstats_heap_inuse_bytes", Help: "Heap bytes in use.", Value: float64(ms.HeapInuse)},
		{Name: "go_memstats_heap_alloc_bytes", Help: "Heap bytes allocated and not freed.", Value: float64(ms.HeapAlloc)},
		{Name: "go_memstats_stack_inuse_bytes", Help: "Goroutine stack bytes in use.", Value: float64(ms.StackInuse)},
		{Name: "go_memstats_sys_bytes", Help: "Bytes obtained from the OS.", Value: float64(ms.Sys)},
	}
	if rss, ok := residentBytes(); ok {
		gs = append(gs, Gauge{Name: "process_resident_memory_bytes", Help: "Resident set size.", Value: float64(rss)})
	}
	return gs
}

// residentBytes reads the RSS from /proc (Linux).
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}
