package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
)

// TestMain lets the bench start this test binary as its server process.
func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) != "" {
		ctx, cancel := context.WithCancel(context.Background())
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		cancel()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// The demo: embedded NATS, XCtrl, the test node and a client call to 9196;
// exit 0 with audio both ways, each part labelled.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--duration", "1s", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var res demoResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	r := res.Report
	if !res.OK || !r.Answered || r.RTPPacketsSent == 0 || r.RTPPacketsReceived == 0 || res.NodeRTPIn == 0 {
		t.Errorf("result %+v", res)
	}
	if r.HangupCause != "NORMAL_CLEARING" || r.Codec != "PCMU" || r.NodeUUID != res.NodeUUID {
		t.Errorf("report %+v", r)
	}
	for _, want := range []string{"embedded NATS", res.NATSURL, res.CtrlUUID, res.WSURL, res.NodeUUID, "not FreeSWITCH", "[demo]   OK"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// The text report goes to stdout; bad flags exit 2.
func TestDemoTextAndUsage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"--duration", "500ms", "--dest", "9197"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "received") || !strings.Contains(stdout.String(), "node: received") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	for _, args := range [][]string{{"--nope"}, {"extra"}, {"--serve", "--bench"}, {"--duration", "0s"}} {
		if code := run(ctx, args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// --serve runs the servers until its context ends; a client calls them.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(sctx, []string{"--serve", "--ws-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--stats-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatal("no ready line")
	}
	var r ready
	if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Event != "ready" || r.StatsURL == "" {
		t.Fatalf("ready line %q: %v", sc.Text(), err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	c, err := client.Dial(ctx, client.Options{URL: r.WSURL, Login: "load7@" + stack.Domain, Passwd: stack.Password, Settings: client.LoopbackSettings()})
	if err != nil {
		t.Fatal(err)
	}
	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(1000), Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_ = call.Wait(ctx)
	_ = c.Close()
	if rep := call.Report(); !rep.Answered || rep.RTPPacketsReceived == 0 {
		t.Errorf("call through --serve: %s", rep)
	}
	srv := &server{ready: r, http: &httpClient}
	st, err := srv.stats(ctx, true)
	if err != nil || st.HeapInuse == 0 {
		t.Errorf("stats %+v: %v", st, err)
	}
	stop()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d", code)
	}
}

// --bench with a handful of calls: the server is a child process (this
// test binary run as the command), the load runs here.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--bench", "--calls", "4", "--rate", "20", "--hold", "1s", "--json"}, &stdout, &stderr)
	var res benchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("exit %d: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	// The benchmark's rate and loss targets are figures for a quiet
	// machine (the command exits 1 when they are missed); this test checks
	// that the benchmark works: every call held with media, none failed.
	if code != 0 {
		t.Logf("exit %d (a loaded machine): %v", code, res.Problems)
	}
	if res.Held != 4 || res.Failed != 0 || res.Expected == 0 || res.SetupMS.N != 4 || res.ServerPID == res.ClientPID || res.NodeActiveMid != 4 {
		t.Errorf("bench result %+v\nstderr:\n%s", res, stderr.String())
	}
}
