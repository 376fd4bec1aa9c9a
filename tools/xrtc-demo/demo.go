package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
)

// demoResult is what --json prints.
type demoResult struct {
	NATSURL  string `json:"nats_url"`
	CtrlUUID string `json:"ctrl_uuid"`
	WSURL    string `json:"ws_url"`
	NodeUUID string `json:"node_uuid"`
	NodeKind string `json:"node_kind"`
	Login    string `json:"login"`

	Report client.Report `json:"report"`
	// What the node's channel counted: the client's audio arriving.
	NodeRTPIn  uint64 `json:"node_rtp_packets_received"`
	NodeRTPOut uint64 `json:"node_rtp_packets_sent"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

const nodeKind = "test host (module/testhost: the xrtc endpoint on a Go switch with pion media), not FreeSWITCH"

// demo starts the stack, calls o.dest and prints the client's report.
func demo(ctx context.Context, o options, stdout, stderr io.Writer, log *slog.Logger, closeLog func()) int {
	say := func(format string, a ...any) {
		fmt.Fprintf(stderr, format+"\n", a...)
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := stack.Start(startCtx, stack.Options{Ctrls: 1, Nodes: 1, Log: log})
	cancel()
	if err != nil {
		say("xrtc-demo: %v", err)
		return 1
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closeLog() // stopping
		err := st.Close(cctx)
		closeLog() // closed
		if err != nil {
			say("xrtc-demo: stopping: %v", err)
		}
	}()
	xc, node := st.Ctrls[0], st.Nodes[0]
	res := demoResult{NATSURL: st.NATSURL(), CtrlUUID: xc.CtrlUUID(), WSURL: xc.WSURL(),
		NodeUUID: node.Endpoint.NodeUUID(), NodeKind: nodeKind, Login: stack.User(1000)}
	say("[nats]   embedded NATS server with JetStream at %s (the XCC bus; XCtrl's user registry is a key-value bucket on it)", res.NATSURL)
	say("[xctrl]  XCtrl ctrl_uuid=%s, Verto WebSocket at %s (users 1000-1019@%s, password %s)", res.CtrlUUID, res.WSURL, stack.Domain, stack.Password)
	say("[node]   node_uuid=%s: %s;", res.NodeUUID, nodeKind)
	say("         dialplan 9196 echo, 9197 tone, 9198 silence, 9195 early media, 3000-3099 conference; media on 127.0.0.1")
	say("[client] headless Verto client (tools/client, pion/webrtc) as %s: calling %s with a %.0f Hz tone for %v", res.Login, o.dest, o.tone, o.duration)

	code := 1
	defer func() {
		if o.json {
			b, _ := json.MarshalIndent(res, "", "  ")
			fmt.Fprintln(stdout, string(b))
		}
	}()
	c, err := client.Dial(ctx, client.Options{URL: res.WSURL, Login: res.Login, Passwd: stack.Password,
		Settings: client.LoopbackSettings(), Logger: log,
		OnEvent: func(ev client.Event) {
			switch ev.Kind {
			case client.EventTrying, client.EventAnswered, client.EventMediaUp, client.EventHangup:
				say("[client] %-8s %s", ev.Kind, ev.Text)
			}
		}})
	if err != nil {
		res.Error = err.Error()
		say("xrtc-demo: login: %v", err)
		return code
	}
	defer c.Close()
	call, err := c.Call(ctx, o.dest, client.CallOptions{Audio: client.Tone(o.tone), Duration: o.duration})
	if err != nil {
		res.Error = err.Error()
		say("xrtc-demo: call: %v", err)
		return code
	}
	ch := st.Channel(call.ID())
	err = call.Wait(ctx) // Duration hangs it up; a signal ends ctx
	if err != nil {
		// Interrupted: hang up cleanly, the report still prints.
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = call.Hangup(hctx)
		cancel()
	}
	res.Report = call.Report()
	if ch != nil {
		s := ch.Stats()
		res.NodeRTPIn, res.NodeRTPOut = s.RTPIn, s.RTPOut
	}
	res.OK = res.Report.Answered && res.Report.RTPPacketsSent > 0 && res.Report.RTPPacketsReceived > 0 && res.NodeRTPIn > 0
	if !o.json {
		fmt.Fprintln(stdout, res.Report.String())
		fmt.Fprintf(stdout, "node: received %d RTP packets from the client, sent %d\n", res.NodeRTPIn, res.NodeRTPOut)
	}
	if res.OK {
		say("[demo]   OK: a WebRTC call with DTLS-SRTP audio both ways, all on 127.0.0.1")
		code = 0
	} else {
		if res.Report.Error != "" {
			res.Error = res.Report.Error
		}
		say("[demo]   FAILED: audio did not flow both ways (answered=%v, sent=%d, received=%d, node received=%d)",
			res.Report.Answered, res.Report.RTPPacketsSent, res.Report.RTPPacketsReceived, res.NodeRTPIn)
	}
	return code
}
