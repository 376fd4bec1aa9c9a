package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"xccrtc/ctrl/loadgen"
	"xccrtc/tools/e2e/chaos"
	"xccrtc/tools/internal/childproc"
	"xccrtc/verto"
)

// The echo child of BenchmarkRelayProcesses: this test binary run again
// with echoChildArg and a NATS URL (childproc) reads the server's token on
// its first line, answers NATS requests on echoSubject and runs a WebSocket
// echo server, each party a process, as the relay's are.
const (
	echoChildArg = "relay-echo"
	echoSubject  = "bench.echo"
)

func echoChild(url string) int {
	in := bufio.NewReader(os.Stdin)
	token, _ := in.ReadString('\n')
	nc, err := nats.Connect(url, nats.Token(strings.TrimSpace(token)))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer nc.Close()
	if _, err := nc.Subscribe(echoSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := nc.Flush(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	srv := httptest.NewServer(loadgen.EchoHandler())
	defer srv.Close()
	fmt.Println("ready", "ws"+strings.TrimPrefix(srv.URL, "http"))
	_, _ = in.ReadString('\n') // the parent closes stdin to stop it
	return 0
}

// BenchmarkRelayProcesses times the relay with every party a process of
// its own, as deployed: a client (this process) -> XCtrl -> NATS -> a node
// (xrtc-node: the real xrtc endpoint, on the test host) -> back, for a
// verto.info the node reads and answers. Its baseline is the same hops
// raw, timed as one operation: a NATS request/reply through the same NATS
// server to a responder in another process, then a WebSocket echo from
// that process. It prints the medians and relay/raw at p10, median and p90,
// and, to see where the difference goes, the NATS and WebSocket round
// trips alone, XCtrl's verto.ping and the node reached directly over NATS.
// The four operations run in a new random order each round (loadgen.Rounds).
func BenchmarkRelayProcesses(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins := chaosBins(b)
	// The bounds are checked (their cost is measured) but out of reach.
	sys, err := chaos.Start(ctx, chaos.Options{Bins: bins, Dir: b.TempDir(), NATS: 1, Ctrls: 1, Nodes: 1,
		CtrlArgs: []string{"--rate", "1e9", "--rate-burst", "1000000000", "--user-rate", "-1", "--user-data-rate", "-1"}})
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()

	echo, err := childproc.Start(ctx, echoChildArg, sys.NATSURL())
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Stop()
	if err := echo.Send(sys.Token()); err != nil {
		b.Fatal(err)
	}
	line, err := echo.Line()
	wsURL, ok := strings.CutPrefix(line, "ready ")
	if err != nil || !ok {
		b.Fatalf("echo child: %q %v", line, err)
	}

	nc, err := sys.Connect()
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ec, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()

	// A raw Verto socket, logged in. A verto.info without a call goes to
	// any node, which reads it and answers.
	ws, _, err := websocket.DefaultDialer.Dial(sys.Ctrls[0].WS, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	id := 0
	call := func(method, params string) []byte {
		id++
		want := fmt.Sprintf(`"id":%d,`, id)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))); err != nil {
			b.Fatal(err)
		}
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if !strings.Contains(string(m), `"method"`) && strings.Contains(string(m), want) {
				if strings.Contains(string(m), `"error"`) {
					b.Fatalf("%s: %s", method, m)
				}
				return m
			}
		}
	}
	call("login", fmt.Sprintf(`{"login":%q,"passwd":%q,"sessid":"bench-relay"}`, sys.User(), chaos.Password))
	dialog := `"type":"bench","dialogParams":{"destination_number":"9196","caller_id_name":"Bench","caller_id_number":"1000"}`
	info := `{` + dialog + `}`
	frame := []byte(`{"jsonrpc":"2.0","id":1,"method":"verto.info","params":` + info + `}`)
	// What XCtrl sends the node for it (the raw NATS payload too).
	sample := []byte(`{"jsonrpc":"2.0","id":"1","method":"verto.info","params":{` + dialog +
		`,"sessid":"bench-direct","xrtc_user":{"login":"1000@xswitch.cn","id":"1000","domain":"xswitch.cn"}}}`)
	nodeSubject := verto.DefaultSubjects().Node(sys.Nodes[0].UUID)
	for i := 0; i < 200; i++ { // warm up
		call("verto.info", info)
	}

	var raw loadgen.RawTimes
	relay := make([]time.Duration, 0, b.N)
	ping := make([]time.Duration, 0, b.N)
	node := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	loadgen.Rounds(b.N,
		func() {
			if err := raw.Round(nc, echoSubject, sample, ec, frame); err != nil {
				b.Fatal(err)
			}
		},
		func() { t := time.Now(); call("verto.info", info); relay = append(relay, time.Since(t)) },
		func() { t := time.Now(); call("verto.ping", "{}"); ping = append(ping, time.Since(t)) },
		func() {
			t := time.Now()
			if _, err := nc.Request(nodeSubject, sample, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			node = append(node, time.Since(t))
		})
	b.StopTimer()
	q := loadgen.Quantile
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(q(raw.Raw, 0.5)), "nats-then-ws-median-µs")
	b.ReportMetric(us(q(relay, 0.5)), "relay-median-µs")
	b.ReportMetric(us(q(raw.WS, 0.5)), "ws-median-µs")
	b.ReportMetric(us(q(ping, 0.5)), "xctrl-ping-median-µs")
	b.ReportMetric(us(q(node, 0.5)), "node-direct-median-µs")
	b.ReportMetric(us(q(raw.NATS, 0.5)), "nats-median-µs")
	loadgen.RelayRatios(b.ReportMetric, "relay/raw", relay, raw.Raw)
}
