package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"xccrtc/tools/e2e/stack"
)

// ready is the line --serve prints on stdout once everything is up.
type ready struct {
	Event    string `json:"event"` // "ready"
	NATSURL  string `json:"nats_url"`
	WSURL    string `json:"ws_url"`
	CtrlUUID string `json:"ctrl_uuid"`
	NodeUUID string `json:"node_uuid"`
	NodeKind string `json:"node_kind"`
	StatsURL string `json:"stats_url,omitempty"`
	PID      int    `json:"pid"`
}

// serverStats is what /stats answers: the server process as a whole
// (XCtrl, the node and NATS share it).
type serverStats struct {
	Calls       int     `json:"calls"`        // calls on the node
	ActiveCalls int     `json:"active_calls"` // of which answered
	RTPIn       uint64  `json:"rtp_in"`       // RTP the node received on them
	Sockets     int     `json:"sockets"`      // XCtrl's logged-in sockets
	HeapInuse   uint64  `json:"heap_inuse_bytes"`
	StackInuse  uint64  `json:"stack_inuse_bytes"`
	Sys         uint64  `json:"sys_bytes"`
	RSS         uint64  `json:"rss_bytes"`
	Goroutines  int     `json:"goroutines"`
	CPUUserS    float64 `json:"cpu_user_s"`
	CPUSysS     float64 `json:"cpu_sys_s"`
}

// serve runs the servers until ctx ends (SIGINT, SIGTERM) or, with
// --parent-pipe, stdin closes.
func serve(ctx context.Context, o options, stdout, stderr io.Writer, log *slog.Logger, closeLog func()) int {
	ws, nl := o.wsListen, o.natsListen
	if ws == "" {
		ws = "127.0.0.1:8081"
	}
	if nl == "" {
		nl = "127.0.0.1:4222"
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := stack.Start(startCtx, stack.Options{Ctrls: 1, Nodes: 1, NATSListen: nl, WSListen: []string{ws},
		ExtraUsers: o.users, Log: log})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-demo: %v\n", err)
		return 1
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		closeLog() // stopping
		err := st.Close(cctx)
		closeLog() // closed
		if err != nil {
			fmt.Fprintf(stderr, "xrtc-demo: stopping: %v\n", err)
		}
	}()
	r := ready{Event: "ready", NATSURL: st.NATSURL(), WSURL: st.WSURL(0), CtrlUUID: st.Ctrls[0].CtrlUUID(),
		NodeUUID: st.Nodes[0].Endpoint.NodeUUID(), NodeKind: nodeKind, PID: os.Getpid()}

	if o.statsAddr != "" {
		ln, err := net.Listen("tcp", o.statsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "xrtc-demo: stats: %v\n", err)
			return 1
		}
		srv := &http.Server{Handler: statsHandler(st), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		r.StatsURL = "http://" + ln.Addr().String() + "/stats"
	}
	fmt.Fprintf(stderr, "[nats]  embedded NATS server with JetStream at %s\n", r.NATSURL)
	fmt.Fprintf(stderr, "[xctrl] XCtrl ctrl_uuid=%s at %s (users 1000-1019 and load0-load%d @%s, password %s)\n",
		r.CtrlUUID, r.WSURL, max(o.users-1, 0), stack.Domain, stack.Password)
	fmt.Fprintf(stderr, "[node]  node_uuid=%s: %s\n", r.NodeUUID, nodeKind)
	fmt.Fprintf(stderr, "        try: xrtc-client call 9196 --url %s --login 1000@%s --passwd %s --ice-loopback --duration 5s\n",
		r.WSURL, stack.Domain, stack.Password)
	b, _ := json.Marshal(r)
	fmt.Fprintln(stdout, string(b))

	stdinClosed := make(chan struct{})
	if o.parentPipe {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(stdinClosed)
		}()
	}
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	fmt.Fprintln(stderr, "xrtc-demo: stopping")
	return 0
}

func statsHandler(st *stack.Stack) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		var s serverStats
		s.CPUUserS, s.CPUSysS = processCPU() // before the GC asked for
		if r.URL.Query().Get("gc") != "" {
			runtime.GC()
		}
		for _, n := range st.Nodes {
			for _, c := range n.Endpoint.Calls() {
				s.Calls++
				if c.State == "active" {
					s.ActiveCalls++
				}
				s.RTPIn += c.RTPIn
			}
		}
		for _, c := range st.Ctrls {
			_, in := c.Sockets()
			s.Sockets += in
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.HeapInuse, s.StackInuse, s.Sys = ms.HeapInuse, ms.StackInuse, ms.Sys
		s.Goroutines = runtime.NumGoroutine()
		s.RSS = rss()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
	return mux
}

// rss reads the resident set size from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

var errNotReady = errors.New("server process did not report ready")
