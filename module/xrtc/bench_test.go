package xrtc_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// benchEndpoint is an endpoint on the in-memory bus and a silent fake host:
// what is measured is the Go core, not NATS and not media.
func benchEndpoint(tb testing.TB) (*xrtc.Endpoint, *xrtctest.Bus) {
	bus := xrtctest.NewBus()
	host := xrtctest.NewHost()
	host.Silent = true
	cfg := testConfig()
	cfg.Profiles["default"].MediaTimeout = 0 // real clock here: no timeouts while calls pile up
	ep, err := xrtc.New(xrtc.Options{Config: cfg, Host: host, Bus: bus, NodeUUID: nodeUUID, Log: testLog()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ep.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return ep, bus
}

var benchUser = `"xrtc_user":{"login":"1000@xswitch.cn","id":"1000","domain":"xswitch.cn","caller_id_name":"Alice","caller_id_number":"1000"}`

func msg(id, method, callID, extra string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":"` + id + `","method":"` + method + `","params":{"sessid":"` + callID + `-s","ctrl_uuid":"c1",` +
		benchUser + `,"dialogParams":{"callID":"` + callID + `","destination_number":"9196"}` + extra + `}}`)
}

func roundTrip(tb testing.TB, bus *xrtctest.Bus, subject string, data []byte) {
	rep, _ := bus.Call(subject, data)
	select {
	case r := <-rep:
		if len(r) == 0 {
			tb.Fatal("empty reply")
		}
	case <-time.After(xrtctest.Wait):
		tb.Fatalf("no reply to %s", data)
	}
}

// BenchmarkVertoMessages: one op is a whole client call: verto.invite, the
// switch's answer (verto.answer out), verto.info dtmf, verto.modify hold and
// unhold, verto.bye: 5 requests handled and answered, 6 messages out.
func BenchmarkVertoMessages(b *testing.B) {
	ep, bus := benchEndpoint(b)
	defer ep.Stop(context.Background())
	subject := ep.NodeSubject()
	var seq atomic.Int64
	sdp := `,"sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			id := "bench-" + strconv.FormatInt(n, 10)
			roundTrip(b, bus, subject, msg("1", verto.MethodInvite, id, sdp))
			ep.ChannelAnswer(id, "v=0")
			roundTrip(b, bus, subject, msg("2", verto.MethodInfo, id, `,"dtmf":"1"`))
			roundTrip(b, bus, subject, msg("3", verto.MethodModify, id, `,"action":"hold"`))
			roundTrip(b, bus, subject, msg("4", verto.MethodModify, id, `,"action":"unhold"`))
			roundTrip(b, bus, subject, msg("5", verto.MethodBye, id, ""))
		}
	})
	b.ReportMetric(float64(5*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkActiveCallMemory: heap kept per answered call, media excluded
// (the fake host's channel, about 100 bytes, is included).
func BenchmarkActiveCallMemory(b *testing.B) {
	ep, bus := benchEndpoint(b)
	defer ep.Stop(context.Background())
	subject := ep.NodeSubject()
	sdp := `,"sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"`
	const perOp = 1000
	var total float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for j := 0; j < perOp; j++ {
			id := fmt.Sprintf("mem-%d-%d", i, j)
			roundTrip(b, bus, subject, msg("1", verto.MethodInvite, id, sdp))
			ep.ChannelAnswer(id, "v=0")
		}
		b.StopTimer()
		waitCalls(b, ep, "active", perOp*(i+1))
		runtime.GC()
		runtime.ReadMemStats(&after)
		total += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.StartTimer()
	}
	b.ReportMetric(total/float64(b.N*perOp), "B/call")
	b.ReportMetric(0, "ns/op")
}

func waitCalls(tb testing.TB, ep *xrtc.Endpoint, state string, n int) {
	deadline := time.Now().Add(xrtctest.Wait)
	for {
		cnt := 0
		for _, c := range ep.Calls() {
			if c.State == state {
				cnt++
			}
		}
		if cnt >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d calls %s, want %d", cnt, state, n)
		}
		time.Sleep(time.Millisecond)
	}
}
