package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/tools/e2e/chaos"
)

// The chaos suite at the scale of a test run (chaos.Small): every part a
// real process (xrtc-natsd, xctrl, xrtc-node, built once per test binary),
// the clients here. tools/xrtc-chaos runs the same scenarios at full scale.

// recoverBound is what a test accepts as "new calls served again". The aim
// is 2 s (the command reports it); a shared machine under -race is slower,
// and the failures the suite was built to catch took 40 s or forever.
const recoverBound = 10 * time.Second

var (
	binsOnce sync.Once
	binsDir  string
	binsErr  error
	bins     chaos.Bins
)

// chaosBins builds xctrl, xrtc-natsd and xrtc-node once per test binary
// (with the race detector when this binary has it).
func chaosBins(t testing.TB) chaos.Bins {
	t.Helper()
	binsOnce.Do(func() {
		binsDir, binsErr = os.MkdirTemp("", "xrtc-chaos-bin-")
		if binsErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		bins, binsErr = chaos.Build(ctx, binsDir, raceEnabled)
	})
	if binsErr != nil {
		t.Fatalf("building the chaos commands: %v", binsErr)
	}
	return bins
}

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == echoChildArg {
		os.Exit(echoChild(os.Args[2]))
	}
	code := m.Run()
	if binsDir != "" {
		os.RemoveAll(binsDir)
	}
	os.Exit(code)
}

// TestChaos runs every scenario: no answered call with audio on a part that
// stayed up is lost (counted from the clients' RTP), new calls are served
// again, nothing the scenario throws at the system puts a component off
// the bus. Each figure is logged.
func TestChaos(t *testing.T) {
	b := chaosBins(t)
	for _, sc := range chaos.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			r := sc.Run(ctx, chaos.Env{Bins: b, Dir: t.TempDir(), Scale: chaos.Small, Log: testLogger(t)})
			t.Log(r.String())
			if !r.OK() {
				t.Errorf("%s: %s", sc.About, strings.Join(append(r.Problems, fmt.Sprintf("kept %d/%d, lost %d", r.Kept, r.Calls, r.Lost)), "; "))
			}
			if r.Recover > recoverBound {
				t.Errorf("new calls served again %v after the fault, want under %v (aim: %v)", r.Recover, recoverBound, chaos.Aim)
			}
			if t.Failed() {
				logTails(t, r.Logs)
			}
			checkLeaks(t, base)
		})
	}
}

// logTails prints the end of each process's log.
func logTails(t *testing.T, files []string) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		t.Logf("--- %s (last %d lines)\n%s", f, min(len(lines), 40), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// A NATS cluster member that was killed (SIGKILL) and comes back serves
// reads before it has caught up with what was written while it was down.
// The registry must not read from it: every registration written during
// the outage is found, from the moment the member is back (found by the
// chaos suite: KV watches placed on the rejoining member answered without
// those sockets for two seconds, and calls to the users failed
// USER_NOT_REGISTERED).
func TestRegistryReadsAfterAMemberRejoins(t *testing.T) {
	b := chaosBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := chaos.Start(ctx, chaos.Options{Bins: b, Dir: t.TempDir(), NATS: 3, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	nc, err := sys.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reg, err := ctrl.NewKVRegistry(ctx, nc, ctrl.KVOptions{Bucket: "rejoin", TTL: time.Minute, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	victim := sys.NATS[0]
	victim.Kill()
	const n = 40
	for i := 0; i < n; i++ {
		e := ctrl.RegEntry{CtrlUUID: "c1", Sessid: fmt.Sprintf("s%d", i), Login: fmt.Sprintf("u%d@x", i)}
		for {
			wctx, wcancel := context.WithTimeout(ctx, time.Second)
			_, err := reg.Register(wctx, e) // retried: the bucket may be electing a leader
			wcancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("register %s: %v", e.Login, err)
			}
		}
	}
	if err := victim.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Read every user for a while after the member is back: the window in
	// which it catches up (a bounded sample, not a synchronisation).
	misses, reads := 0, 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		for i := 0; i < n; i++ {
			lctx, lcancel := context.WithTimeout(ctx, time.Second)
			got, err := reg.Lookup(lctx, fmt.Sprintf("u%d@x", i))
			lcancel()
			reads++
			if err == nil && len(got) == 0 {
				misses++
			}
		}
	}
	if misses > 0 {
		t.Errorf("%d of %d lookups after the member came back missed a registered socket", misses, reads)
	}
	t.Logf("%d lookups, %d misses", reads, misses)
}
