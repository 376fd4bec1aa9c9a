package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions describe a load run: up to Concurrency calls at once, started
// at Rate calls a second, for Duration. Every call has its own client (its
// own WebSocket and sessid), as every browser tab has: that is what XCtrl
// sees in production, and it keeps one slow socket from holding up others.
type LoadOptions struct {
	// Client is the template of each call's client. "{n}" in Login is
	// replaced by the call's number (LoginStart, LoginStart+1, ...); Sessid
	// and SessidFile are ignored (each client gets a new sessid).
	Client     Options
	LoginStart int

	Destination string
	Concurrency int           // N: most calls up at once (default 1)
	Rate        float64       // R: new calls a second (default 10)
	Duration    time.Duration // D: how long the run starts and holds calls
	// CallDuration is how long each call stays up after answer; 0 keeps
	// it up until the end of the run. With a CallDuration, ended calls are
	// replaced (at Rate) while the run lasts.
	CallDuration time.Duration
	// MaxCalls stops starting calls after that many (0: no limit).
	MaxCalls int
	// Call are the options of every call.
	Call CallOptions
	// KeepReports puts every call's report in LoadReport.Calls.
	KeepReports bool

	// Progress, when set, is called every ProgressInterval (default
	// 500 ms) and once at the end.
	Progress         func(LoadProgress)
	ProgressInterval time.Duration
}

// LoadProgress is a snapshot of a running load.
type LoadProgress struct {
	Elapsed, Duration time.Duration
	Started, Active   int // calls started; calls with a peer connection now
	Answered          int
	Succeeded, Failed int
	Done              bool // the final call
}

// LoadReport is the result of a load run.
type LoadReport struct {
	Destination string  `json:"destination"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	DurationS   float64 `json:"duration_s"`
	ElapsedS    float64 `json:"elapsed_s"`

	Attempted int            `json:"calls_attempted"`
	Answered  int            `json:"calls_answered"`
	Succeeded int            `json:"calls_succeeded"`
	Failed    int            `json:"calls_failed"`
	Failures  map[string]int `json:"failures_by_cause"`

	SetupMS     Percentiles `json:"setup_ms"`
	RTTMS       Percentiles `json:"rtt_ms"`
	MeanLossPct float64     `json:"mean_loss_pct"`
	MaxLossPct  float64     `json:"max_loss_pct"`
	MeanJitter  float64     `json:"mean_jitter_ms"`

	RTPPacketsSent     uint64 `json:"rtp_packets_sent"`
	RTPPacketsReceived uint64 `json:"rtp_packets_received"`

	PeakActive      int     `json:"peak_active_pcs"`
	HeapPeakBytes   uint64  `json:"heap_peak_bytes"`
	MemPerPCBytes   uint64  `json:"mem_per_pc_bytes"`
	CPUUserS        float64 `json:"cpu_user_s"`
	CPUSysS         float64 `json:"cpu_sys_s"`
	CPUPctOfOneCore float64 `json:"cpu_pct_of_one_core"`

	Calls []Report `json:"calls,omitempty"`
}

// Percentiles of a sample, in ms.
type Percentiles struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	rank := func(p float64) float64 { // nearest rank
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Percentiles{N: len(s), Min: s[0], P50: rank(50), P90: rank(90), P99: rank(99), Max: s[len(s)-1],
		Mean: round1(sum / float64(len(s)))}
}

// Failure classes of LoadReport.Failures besides hang-up causes.
const (
	FailConnect   = "CONNECT_FAILED" // WebSocket did not open
	FailLogin     = "LOGIN_FAILED"   // login refused
	FailInvite    = "INVITE_FAILED"  // invite refused without a cause, or timed out
	FailNoAnswer  = "NOT_ANSWERED"   // still ringing when the run ended
	FailNoMedia   = "NO_MEDIA"       // answered, but no RTP came back
	FailRemoteBye = "REMOTE_HANGUP"  // the far end hung up first: REMOTE_HANGUP:<cause>
	FailSocket    = "SOCKET_CLOSED"  // the socket closed under the call
)

// Load runs a load against a Verto server and reports. It returns an error
// only for bad options; failed calls are counted in the report.
func Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	if o.Destination == "" {
		return LoadReport{}, errors.New("client: load: no destination")
	}
	if o.Duration <= 0 {
		return LoadReport{}, errors.New("client: load: duration must be positive")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Rate <= 0 {
		o.Rate = 10
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 500 * time.Millisecond
	}
	if err := o.Client.withDefaults(); err != nil {
		return LoadReport{}, err
	}
	l := &loadRun{o: o, failures: map[string]int{}}
	return l.run(ctx), nil
}

type loadRun struct {
	o LoadOptions

	started, active, answered, succeeded, failed atomic.Int64

	mu       sync.Mutex
	failures map[string]int
	reports  []Report
	setups   []float64
	rtts     []float64
	losses   []float64
	jitters  []float64
	sent     uint64
	received uint64
}

func (l *loadRun) run(parent context.Context) LoadReport {
	o := l.o
	runtime.GC()
	var msBase runtime.MemStats
	runtime.ReadMemStats(&msBase)
	cpu0 := processCPU()
	t0 := time.Now()

	// runCtx ends the run: calls hang up when it is done
	runCtx, cancel := context.WithTimeout(parent, o.Duration)
	defer cancel()

	var (
		heapPeak  uint64
		peak      int
		memPerPC  uint64
		samplerWG sync.WaitGroup
		stopSamp  = make(chan struct{})
	)
	samplerWG.Add(1)
	go func() {
		defer samplerWG.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		prog := time.NewTicker(o.ProgressInterval)
		defer prog.Stop()
		for {
			select {
			case <-stopSamp:
				return
			case <-prog.C:
				if o.Progress != nil {
					o.Progress(l.progress(t0, false))
				}
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heapPeak = max(heapPeak, ms.HeapAlloc)
				if a := int(l.active.Load()); a > 0 && a >= peak && ms.HeapAlloc > msBase.HeapAlloc {
					peak = a
					memPerPC = (ms.HeapAlloc - msBase.HeapAlloc) / uint64(a)
				}
			}
		}
	}()

	var wg sync.WaitGroup
	slots := make(chan struct{}, o.Concurrency)
	interval := time.Duration(float64(time.Second) / o.Rate)
	tick := time.NewTicker(interval)
	n := 0
starting:
	for o.MaxCalls == 0 || n < o.MaxCalls {
		select {
		case <-runCtx.Done():
			break starting
		case slots <- struct{}{}:
		}
		select {
		case <-runCtx.Done():
			<-slots
			break starting
		case <-tick.C:
		}
		idx := n
		n++
		l.started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			l.record(l.one(runCtx, idx))
		}()
	}
	tick.Stop()
	if o.MaxCalls > 0 {
		// every call started: hold them until the run ends
		<-runCtx.Done()
	}
	wg.Wait()
	close(stopSamp)
	samplerWG.Wait()
	elapsed := time.Since(t0)
	cpu1 := processCPU()

	r := LoadReport{
		Destination: o.Destination, Concurrency: o.Concurrency, Rate: o.Rate,
		DurationS: o.Duration.Seconds(), ElapsedS: round1(elapsed.Seconds()),
		Attempted: int(l.started.Load()), Answered: int(l.answered.Load()),
		Succeeded: int(l.succeeded.Load()), Failed: int(l.failed.Load()),
		Failures: l.failures, PeakActive: peak, HeapPeakBytes: heapPeak, MemPerPCBytes: memPerPC,
		CPUUserS: round1(cpu1.user.Seconds() - cpu0.user.Seconds()), CPUSysS: round1(cpu1.sys.Seconds() - cpu0.sys.Seconds()),
	}
	r.CPUPctOfOneCore = round1(100 * ((cpu1.user - cpu0.user) + (cpu1.sys - cpu0.sys)).Seconds() / elapsed.Seconds())
	l.mu.Lock()
	r.SetupMS = percentiles(l.setups)
	r.RTTMS = percentiles(l.rtts)
	r.RTPPacketsSent, r.RTPPacketsReceived = l.sent, l.received
	if len(l.losses) > 0 {
		var sum float64
		for _, x := range l.losses {
			sum += x
			r.MaxLossPct = max(r.MaxLossPct, x)
		}
		r.MeanLossPct = round1(sum/float64(len(l.losses))*100) / 100
	}
	if len(l.jitters) > 0 {
		var sum float64
		for _, x := range l.jitters {
			sum += x
		}
		r.MeanJitter = round1(sum / float64(len(l.jitters)))
	}
	if o.KeepReports {
		r.Calls = l.reports
	}
	l.mu.Unlock()
	if o.Progress != nil {
		o.Progress(l.progress(t0, true))
	}
	return r
}

func (l *loadRun) progress(t0 time.Time, done bool) LoadProgress {
	return LoadProgress{
		Elapsed: time.Since(t0), Duration: l.o.Duration,
		Started: int(l.started.Load()), Active: int(l.active.Load()), Answered: int(l.answered.Load()),
		Succeeded: int(l.succeeded.Load()), Failed: int(l.failed.Load()), Done: done,
	}
}

// loadResult is one call's outcome.
type loadResult struct {
	report  *Report
	failure string // "" for success
}

func (l *loadRun) record(res loadResult) {
	if res.failure == "" {
		l.succeeded.Add(1)
	} else {
		l.failed.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if res.failure != "" {
		l.failures[res.failure]++
	}
	r := res.report
	if r == nil {
		return
	}
	if l.o.KeepReports {
		l.reports = append(l.reports, *r)
	}
	l.sent += r.RTPPacketsSent
	l.received += r.RTPPacketsReceived
	if r.Answered {
		l.setups = append(l.setups, r.SetupMS)
		if r.RTPPacketsReceived > 0 {
			l.losses = append(l.losses, r.LossPct)
			l.jitters = append(l.jitters, r.JitterMS)
		}
	}
	if r.RTTSamples > 0 {
		l.rtts = append(l.rtts, r.RTTMS)
	}
}

// one places call number idx and holds it until CallDuration or the end of
// the run.
func (l *loadRun) one(runCtx context.Context, idx int) loadResult {
	o := l.o
	co := o.Client
	co.Login = strings.ReplaceAll(co.Login, "{n}", strconv.Itoa(o.LoginStart+idx))
	co.Sessid, co.SessidFile, co.OnEvent = "", "", nil
	c, err := Dial(runCtx, co)
	if err != nil {
		var le *LoginError
		if errors.As(err, &le) {
			return loadResult{failure: FailLogin}
		}
		if runCtx.Err() != nil {
			return loadResult{failure: FailNoAnswer}
		}
		return loadResult{failure: FailConnect}
	}
	defer c.Close()
	call, err := c.Call(runCtx, o.Destination, o.Call)
	if err != nil {
		var he *HangupError
		if errors.As(err, &he) && he.Cause != "" {
			return loadResult{failure: he.Cause}
		}
		if runCtx.Err() != nil {
			return loadResult{failure: FailNoAnswer}
		}
		return loadResult{failure: FailInvite}
	}
	l.active.Add(1)
	defer l.active.Add(-1)
	answered := call.WaitAnswered(runCtx) == nil
	if answered {
		l.answered.Add(1)
		var hold <-chan time.Time
		if o.CallDuration > 0 {
			t := time.NewTimer(o.CallDuration)
			defer t.Stop()
			hold = t.C
		}
		select {
		case <-hold:
		case <-runCtx.Done():
		case <-call.Done():
		}
	}
	hctx, cancel := context.WithTimeout(context.Background(), co.RequestTimeout)
	defer cancel()
	_ = call.Hangup(hctx)
	r := call.Report()
	return loadResult{report: &r, failure: classify(r)}
}

// classify says why a finished call failed, or "" when it succeeded: it
// was answered, got RTP back and this client hung it up.
func classify(r Report) string {
	switch {
	case r.Answered && r.EndedBy == EndedByLocal && r.RTPPacketsReceived > 0:
		return ""
	case r.Answered && r.EndedBy == EndedByLocal:
		return FailNoMedia
	case r.EndedBy == EndedByRemote && r.Answered:
		return FailRemoteBye + ":" + orDash(r.HangupCause)
	case r.EndedBy == EndedByRemote:
		return orDash(r.HangupCause)
	case r.EndedBy == EndedBySocket || r.EndedBy == EndedByPunt:
		return FailSocket
	case !r.Answered && r.EndedBy == EndedByLocal:
		return FailNoAnswer
	}
	return fmt.Sprintf("%s:%s", strings.ToUpper(orDash(r.EndedBy)), orDash(r.HangupCause))
}

// String is the human summary of a load report.
func (r LoadReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load %s: %d concurrent, %.1f calls/s, %.1f s (ran %.1f s)\n",
		r.Destination, r.Concurrency, r.Rate, r.DurationS, r.ElapsedS)
	fmt.Fprintf(&b, "  calls     %d attempted, %d answered, %d succeeded, %d failed\n",
		r.Attempted, r.Answered, r.Succeeded, r.Failed)
	if len(r.Failures) > 0 {
		keys := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("  failures ")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, r.Failures[k])
		}
		b.WriteString("\n")
	}
	p := r.SetupMS
	fmt.Fprintf(&b, "  setup ms  p50 %.1f  p90 %.1f  p99 %.1f  (min %.1f, max %.1f, n %d)\n", p.P50, p.P90, p.P99, p.Min, p.Max, p.N)
	if r.RTTMS.N > 0 {
		fmt.Fprintf(&b, "  audio rtt p50 %.1f  p90 %.1f  p99 %.1f ms\n", r.RTTMS.P50, r.RTTMS.P90, r.RTTMS.P99)
	}
	fmt.Fprintf(&b, "  media     loss mean %.2f%% max %.2f%%, jitter mean %.1f ms, RTP sent %d received %d\n",
		r.MeanLossPct, r.MaxLossPct, r.MeanJitter, r.RTPPacketsSent, r.RTPPacketsReceived)
	fmt.Fprintf(&b, "  resources peak %d peer connections, %.1f KiB heap each (peak heap %.1f MiB), CPU %.1fs user %.1fs sys (%.0f%% of one core)\n",
		r.PeakActive, float64(r.MemPerPCBytes)/1024, float64(r.HeapPeakBytes)/(1<<20), r.CPUUserS, r.CPUSysS, r.CPUPctOfOneCore)
	return b.String()
}
