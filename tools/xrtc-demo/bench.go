package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
)

// Target of the media benchmark: concurrent calls under 0.1% loss.
const (
	benchTarget  = 200
	benchMaxLoss = 0.1 // %
)

// benchResult is what --bench prints (as JSON with --json).
type benchResult struct {
	Destination string  `json:"destination"`
	Calls       int     `json:"calls"`
	Rate        float64 `json:"rate"`
	HoldS       float64 `json:"hold_s"`
	ServerPID   int     `json:"server_pid"`
	ClientPID   int     `json:"client_pid"`
	CPUs        int     `json:"cpus"`

	Held           int            `json:"calls_held"`             // answered, echoed, hung up by the client at the end
	NodeActiveMid  int            `json:"node_active_mid_hold"`   // answered calls on the node three quarters into the hold
	PeakPCs        int            `json:"client_peak_pcs"`        // client peer connections up at once
	Failed         int            `json:"calls_failed"`           //
	Failures       map[string]int `json:"failures_by_cause"`      //
	LossPct        float64        `json:"loss_pct"`               // lost / expected over every call, from RTP sequence numbers
	Lost           int64          `json:"rtp_packets_lost"`       //
	Expected       uint64         `json:"rtp_packets_expected"`   //
	MaxCallLossPct float64        `json:"max_call_loss_pct"`      //
	CallsOverLoss  int            `json:"calls_over_0_1pct_loss"` //
	// Pacing: RTP the clients sent against 50 packets/s for as long as
	// each call had media, and the share of it that came back. A starved
	// load generator sends less and shows no "loss".
	SentPctOfNominal float64            `json:"sent_pct_of_nominal"`
	ReturnedPct      float64            `json:"returned_pct_of_sent"`
	SetupMS          client.Percentiles `json:"setup_ms"`
	JitterMS         float64            `json:"mean_jitter_ms"`

	ServerMemPerPC uint64  `json:"server_mem_per_pc_bytes"` // server heap+stacks after GC, growth / node calls
	ServerRSSPerPC uint64  `json:"server_rss_per_pc_bytes"` // server RSS growth / node calls
	ClientMemPerPC uint64  `json:"client_mem_per_pc_bytes"` // client heap growth / peer connections (tools/client)
	ServerCPUPct   float64 `json:"server_cpu_pct_of_one_core"`
	// CPU while every call is up (between the two hold snapshots).
	ServerHoldCPUPct float64 `json:"server_hold_cpu_pct_of_one_core"`
	ClientHoldCPUPct float64 `json:"client_hold_cpu_pct_of_one_core"`
	ClientCPUPct     float64 `json:"client_cpu_pct_of_one_core"`

	Problems  []string `json:"problems,omitempty"` // why these calls did not hold, if they did not
	TargetMet bool     `json:"target_met"`         // at least benchTarget calls held, no problem
	Error     string   `json:"error,omitempty"`
}

// bench starts the servers in a child process (this program with --serve)
// and loads them from this process with o.calls echo calls.
func bench(ctx context.Context, o options, stdout, stderr io.Writer) int {
	res := benchResult{Destination: o.dest, Calls: o.calls, Rate: o.rate, HoldS: o.hold.Seconds(), ClientPID: os.Getpid(), CPUs: cpus()}
	fail := func(err error) int {
		res.Error = err.Error()
		fmt.Fprintf(stderr, "xrtc-demo: bench: %v\n", err)
		if o.json {
			b, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(b))
		}
		return 1
	}
	srv, err := startServer(ctx, o, stderr)
	if err != nil {
		return fail(err)
	}
	defer srv.stop(stderr)
	res.ServerPID = srv.cmd.Process.Pid
	base, err := srv.stats(ctx, true)
	if err != nil {
		return fail(err)
	}
	ramp := time.Duration(float64(o.calls) / o.rate * float64(time.Second))
	total := ramp + o.hold + 2*time.Second
	fmt.Fprintf(stderr, "[bench] servers (embedded NATS + XCtrl + %s) in pid %d at %s\n", "test node", res.ServerPID, srv.ready.WSURL)
	fmt.Fprintf(stderr, "[bench] clients in pid %d: %d echo calls to %s, %.0f/s (ramp %v), held %v; each its own WebSocket and DTLS-SRTP peer connection\n",
		res.ClientPID, o.calls, o.dest, o.rate, ramp.Round(time.Second), o.hold)

	// Two snapshots inside the hold, a quarter and three quarters in:
	// CPU between them is what the held calls cost; memory is read at
	// the second, after a GC.
	type snap struct {
		at         time.Time
		srv        serverStats
		cliU, cliS float64
	}
	var (
		mu       sync.Mutex
		snaps    [2]*snap
		once     [2]sync.Once
		wg       sync.WaitGroup
		lastLog  time.Time
		snapAt   = [2]time.Duration{ramp + o.hold/4, ramp + 3*o.hold/4}
		snapName = [2]string{"hold +25%", "hold +75%"}
	)
	progress := func(p client.LoadProgress) {
		if time.Since(lastLog) >= 2*time.Second || p.Done {
			lastLog = time.Now()
			fmt.Fprintf(stderr, "[bench] %5.1fs started %d, peer connections %d, answered %d, failed %d\n",
				p.Elapsed.Seconds(), p.Started, p.Active, p.Answered, p.Failed)
		}
		for i := range snaps {
			if p.Elapsed < snapAt[i] || p.Done {
				continue
			}
			once[i].Do(func() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sn := &snap{at: time.Now()}
					sn.cliU, sn.cliS = processCPU()
					var err error
					if sn.srv, err = srv.stats(ctx, i == 1); err != nil {
						fmt.Fprintf(stderr, "[bench] server stats: %v\n", err)
						return
					}
					mu.Lock()
					snaps[i] = sn
					mu.Unlock()
					fmt.Fprintf(stderr, "[bench] %s: node has %d answered calls; server heap %.1f MiB, stacks %.1f MiB, RSS %.1f MiB, %d goroutines\n",
						snapName[i], sn.srv.ActiveCalls, mib(sn.srv.HeapInuse), mib(sn.srv.StackInuse), mib(sn.srv.RSS), sn.srv.Goroutines)
				}()
			})
		}
	}
	lr, err := client.Load(ctx, client.LoadOptions{
		Client: client.Options{URL: srv.ready.WSURL, Login: "load{n}@" + stack.Domain, Passwd: stack.Password,
			Settings: client.LoopbackSettings(), RequestTimeout: 20 * time.Second},
		Destination: o.dest, Concurrency: o.calls, Rate: o.rate, Duration: total,
		Call:        client.CallOptions{Audio: client.Tone(1000)},
		KeepReports: true, Progress: progress, ProgressInterval: 250 * time.Millisecond,
	})
	wg.Wait()
	if err != nil {
		return fail(err)
	}
	end, err := srv.stats(ctx, false)
	if err != nil {
		return fail(err)
	}

	res.Held, res.Failed, res.Failures, res.PeakPCs = lr.Succeeded, lr.Failed, lr.Failures, lr.PeakActive
	res.SetupMS, res.JitterMS, res.ClientMemPerPC, res.ClientCPUPct = lr.SetupMS, lr.MeanJitter, lr.MemPerPCBytes, lr.CPUPctOfOneCore
	var nominal, sent, received float64
	for _, r := range lr.Calls {
		// Audio starts when ICE and DTLS are up, about when the first
		// packet comes back: count the nominal rate from there.
		up := r.DurationMS
		if r.FirstRTPMS > r.SetupMS {
			up -= r.FirstRTPMS - r.SetupMS
		}
		nominal += max(up, 0) / 20
		sent += float64(r.RTPPacketsSent)
		received += float64(r.RTPPacketsReceived)
		if r.RTPPacketsLost > 0 {
			res.Lost += r.RTPPacketsLost
		}
		res.Expected += r.RTPPacketsExpected
		res.MaxCallLossPct = max(res.MaxCallLossPct, r.LossPct)
		if r.LossPct >= benchMaxLoss {
			res.CallsOverLoss++
		}
	}
	if nominal > 0 && sent > 0 {
		res.SentPctOfNominal = 100 * sent / nominal
		res.ReturnedPct = 100 * received / sent
	}
	if res.Expected > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Expected)
	}
	if a, b := snaps[0], snaps[1]; a != nil && b != nil {
		wall := b.at.Sub(a.at).Seconds()
		res.ServerHoldCPUPct = 100 * ((b.srv.CPUUserS + b.srv.CPUSysS) - (a.srv.CPUUserS + a.srv.CPUSysS)) / wall
		res.ClientHoldCPUPct = 100 * ((b.cliU + b.cliS) - (a.cliU + a.cliS)) / wall
	}
	if mid := snaps[1]; mid != nil && mid.srv.ActiveCalls > 0 {
		mid := mid.srv
		res.NodeActiveMid = mid.ActiveCalls
		if grow := int64(mid.HeapInuse+mid.StackInuse) - int64(base.HeapInuse+base.StackInuse); grow > 0 {
			res.ServerMemPerPC = uint64(grow) / uint64(mid.ActiveCalls)
		}
		if grow := int64(mid.RSS) - int64(base.RSS); grow > 0 {
			res.ServerRSSPerPC = uint64(grow) / uint64(mid.ActiveCalls)
		}
	}
	if lr.ElapsedS > 0 {
		res.ServerCPUPct = 100 * ((end.CPUUserS + end.CPUSysS) - (base.CPUUserS + base.CPUSysS)) / lr.ElapsedS
	}
	res.Problems = benchProblems(res)
	res.TargetMet = res.Calls >= benchTarget && len(res.Problems) == 0

	if o.json {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		printBench(stdout, res)
	}
	if len(res.Problems) > 0 {
		return 1
	}
	return 0
}

func printBench(w io.Writer, r benchResult) {
	fmt.Fprintf(w, "media load: %d concurrent echo calls to %s (PCMU 20 ms, DTLS-SRTP) through XCtrl and the test host, %.0f new calls/s, held %.0fs\n",
		r.Calls, r.Destination, r.Rate, r.HoldS)
	fmt.Fprintf(w, "  machine:        %d CPU(s); servers (NATS + XCtrl + test node) in pid %d, clients in pid %d\n", r.CPUs, r.ServerPID, r.ClientPID)
	fmt.Fprintf(w, "  calls held:     %d of %d (node had %d answered late in the hold; client peak %d peer connections); failed %d %v\n",
		r.Held, r.Calls, r.NodeActiveMid, r.PeakPCs, r.Failed, r.Failures)
	fmt.Fprintf(w, "  packet loss:    %.4f%% (%d of %d packets, round trip client -> node -> client); worst call %.2f%%, %d call(s) at or over %.1f%%\n",
		r.LossPct, r.Lost, r.Expected, r.MaxCallLossPct, r.CallsOverLoss, benchMaxLoss)
	fmt.Fprintf(w, "  media rate:     clients sent %.2f%% of the nominal 50 packets/s per call; %.2f%% of what they sent came back\n",
		r.SentPctOfNominal, r.ReturnedPct)
	fmt.Fprintf(w, "  setup time:     p50 %.1f ms, p99 %.1f ms (max %.1f ms, n=%d): Call() to verto.answer, ICE gathering included\n",
		r.SetupMS.P50, r.SetupMS.P99, r.SetupMS.Max, r.SetupMS.N)
	fmt.Fprintf(w, "  jitter:         mean %.2f ms\n", r.JitterMS)
	fmt.Fprintf(w, "  memory per PC:  server %.1f KiB heap+stacks (RSS %.1f KiB), client %.1f KiB heap\n",
		float64(r.ServerMemPerPC)/1024, float64(r.ServerRSSPerPC)/1024, float64(r.ClientMemPerPC)/1024)
	fmt.Fprintf(w, "  CPU:            while held: server %.0f%%, clients %.0f%% of one core (%d cores); whole run: server %.0f%%, clients %.0f%%\n",
		r.ServerHoldCPUPct, r.ClientHoldCPUPct, r.CPUs, r.ServerCPUPct, r.ClientCPUPct)
	held := fmt.Sprintf("%d calls held under %.1f%% loss at the full packet rate", r.Calls, benchMaxLoss)
	if len(r.Problems) > 0 {
		held = fmt.Sprintf("%d calls did NOT hold: %s", r.Calls, strings.Join(r.Problems, "; "))
	}
	verdict := "NOT MET"
	if r.TargetMet {
		verdict = "met"
	} else if len(r.Problems) == 0 {
		verdict = fmt.Sprintf("not measured (run --calls %d)", benchTarget)
	}
	fmt.Fprintf(w, "  result:         %s; target %d calls: %s\n", held, benchTarget, verdict)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func cpus() int { return runtimeNumCPU() }

// server is the child process running --serve.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready ready
	http  *http.Client
	done  chan struct{}
}

func startServer(ctx context.Context, o options, stderr io.Writer) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "--serve", "--ws-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1",
		"--stats-listen", "127.0.0.1:0", "--parent-pipe", "--load-users", fmt.Sprint(o.calls*3))
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stdin: stdin, http: &http.Client{Timeout: 30 * time.Second}, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case line, ok := <-lines:
		if ok && json.Unmarshal([]byte(line), &s.ready) == nil && s.ready.Event == "ready" {
			return s, nil
		}
	case <-t.C:
	case <-ctx.Done():
	}
	s.stop(stderr)
	return nil, errNotReady
}

func (s *server) stats(ctx context.Context, gc bool) (serverStats, error) {
	var st serverStats
	url := s.ready.StatsURL
	if gc {
		url += "?gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// stop closes the child's stdin and signals it, then waits (killing it
// after 20 s).
func (s *server) stop(stderr io.Writer) {
	_ = s.stdin.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		fmt.Fprintln(stderr, "xrtc-demo: server process did not stop; killing it")
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.http.CloseIdleConnections()
}

func runtimeNumCPU() int { return runtime.NumCPU() }

var httpClient = http.Client{Timeout: 30 * time.Second}

// benchProblems says why the calls of a run did not hold (nil if they did):
// failures, loss, or media that did not keep its rate (a starved machine
// sends late rather than losing packets).
func benchProblems(r benchResult) []string {
	var p []string
	if r.Held < r.Calls || r.Failed > 0 {
		p = append(p, fmt.Sprintf("%d of %d held, %d failed", r.Held, r.Calls, r.Failed))
	}
	if r.LossPct >= benchMaxLoss {
		p = append(p, fmt.Sprintf("loss %.3f%%", r.LossPct))
	}
	if r.SentPctOfNominal < 99 {
		p = append(p, fmt.Sprintf("clients sent only %.1f%% of the nominal packet rate", r.SentPctOfNominal))
	}
	if r.ReturnedPct < 99 {
		p = append(p, fmt.Sprintf("only %.1f%% of the packets came back", r.ReturnedPct))
	}
	return p
}
