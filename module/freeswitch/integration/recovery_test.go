//go:build freeswitch

package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xccrtc/tools/client"
)

// TestRecovery: calls survive a FreeSWITCH restart. A client of mod_xrtc
// (through XCtrl) and a client of stock mod_verto each have an echo call up;
// the FreeSWITCH this test started is killed (SIGKILL: nothing is said to
// anyone), started again with the same configuration and database,
// mod_xrtc loaded, and `fsctl recover` run. Both calls come back: each
// client gets verto.attach with a new offer, answers it, and hears its echo
// again. The mod_verto client reconnects its WebSocket as verto.js does;
// the mod_xrtc client's WebSocket never went away (XCtrl kept it) and the
// call's verto.attach finds it through XCtrl (xrtc-ctrl-subject, registry).
func TestRecovery(t *testing.T) {
	f := startFreeSWITCH(t, xrtcConf)
	x := startXCtrl(t, f)
	node := loadXrtc(t, f)
	waitNode(t, x, node)
	pw := directoryPassword(t, f)

	xev, vev := newEvlog(), newEvlog()
	xc := featureSides(x, pw)[0].dial(t, "1000", xev)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	vc, err := client.Dial(ctx, client.Options{
		URL: modVertoURL, Login: "1010@" + modVertoDomain, Passwd: pw,
		Settings: client.LoopbackSettings(), Logger: testLogger(t, "client verto"),
		OnEvent: vev.add, Reconnect: true, ReconnectMaxDelay: time.Second, ReconnectTimeout: 2 * time.Minute,
	})
	cancel()
	if err != nil {
		t.Fatalf("login to mod_verto: %v", err)
	}
	t.Cleanup(func() { _ = vc.Close() })

	calls := map[string]*client.Call{"xrtc": callUp(t, xc, "9196"), "mod_verto": callUp(t, vc, "9196")}
	clients := map[string]*client.Client{"xrtc": xc, "mod_verto": vc}
	evs := map[string]*evlog{"xrtc": xev, "mod_verto": vev}
	ids := map[string]string{}
	for name, call := range calls {
		ids[name] = call.ID()
		rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := call.WaitRTT(rctx, 1); err != nil {
			t.Fatalf("%s: no echo: %v", name, err)
		}
		rcancel()
	}
	// FreeSWITCH wrote both calls into its recovery table at the answer.
	waitRecoveryRows(t, f, ids["xrtc"], ids["mod_verto"])

	pid := f.pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill FreeSWITCH %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); f.alive(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("FreeSWITCH %d still there after SIGKILL", pid)
		}
	}
	t.Logf("FreeSWITCH %d killed", pid)
	f.launch()
	t.Logf("FreeSWITCH started again (pid %d)", f.pid)
	node2 := loadXrtc(t, f)
	waitNode(t, x, node2)
	out := f.mustCLI("fsctl recover")
	t.Logf("fsctl recover: %s (node %s, was %s)", strings.TrimSpace(out), node2, node)
	if !strings.Contains(out, "2 session(s) recovered") {
		t.Errorf("fsctl recover: %s", out)
	}

	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			e := evs[name].wait(t, "verto.attach of the recovered call", 60*time.Second, vertoMsg("verto.attach", id))
			t.Logf("verto.attach: %s", e.Params)
			call := calls[name]
			if call.Err() != nil {
				// the client had given the call up (its socket or XCtrl
				// said the node was gone): the attach brought it back as a
				// new call, as verto.js does
				select {
				case call = <-clients[name].Incoming():
				case <-time.After(10 * time.Second):
					t.Fatal("the recovered call did not come to the client")
				}
				if call.ID() != id || !call.Recovered() {
					t.Fatalf("recovered call %s (recovered %v), want %s", call.ID(), call.Recovered(), id)
				}
				t.Logf("the client had ended the call (%s); verto.attach brought it back", calls[name].Report().HangupCause)
			} else {
				t.Logf("the client's call was re-attached")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := call.Report()
			if err := call.WaitReceived(ctx, before.RTPPacketsReceived+50); err != nil {
				t.Errorf("no audio after the recovery: %v (%s)", err, call.Report())
			}
			if err := call.WaitRTT(ctx, before.RTTSamples+1); err != nil {
				t.Errorf("no echo after the recovery: %v", err)
			}
			if name == "xrtc" {
				calls := f.mustCLI("xrtc calls")
				t.Logf("xrtc calls:\n%s", calls)
				if !strings.Contains(calls, id) || !strings.Contains(calls, "active") {
					t.Errorf("xrtc calls lacks the recovered call")
				}
			}
			hangup(t, call)
		})
	}
	waitNoChannels(t, f)
}

// waitRecoveryRows waits until FreeSWITCH's recovery table (core.db) holds
// the calls.
func waitRecoveryRows(t *testing.T, f *fsEnv, uuids ...string) {
	t.Helper()
	db := filepath.Join(f.dir, "db", "core.db")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("sqlite3", db, "select technology, uuid from recovery").CombinedOutput()
		missing := 0
		for _, u := range uuids {
			if !strings.Contains(string(out), u) {
				missing++
			}
		}
		if err == nil && missing == 0 {
			t.Logf("recovery table:\n%s", out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recovery table lacks %d calls: %v %s", missing, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
