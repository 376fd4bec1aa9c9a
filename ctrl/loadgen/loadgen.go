// Package loadgen opens many logged-in Verto sockets to a Verto server
// (XCtrl, or FreeSWITCH's mod_verto: the same client for both) and keeps
// them idle: the load of the idle-socket memory benchmark and of
// tools/xrtc-bench. It times the logins and, on request, verto.ping round
// trips. Its sockets read nothing but the frames the server sends, so that
// the server side is measured, not the client.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Options describe the load.
type Options struct {
	URL         string // ws://host:port/
	Sockets     int
	Concurrency int    // logins in flight (64)
	Users       int    // spread over this many users: <UserPrefix><UserBase+n>@<Domain>
	UserPrefix  string // ("load"; "-" for none, as in 1000@domain)
	UserBase    int    // number of the first user (0)
	Domain      string
	Password    string
	SourceIPs   int  // spread sockets over 127.0.0.1..127.0.0.N (avoids ephemeral port exhaustion); 0 = 1
	WaitReady   bool // a login is done at verto.clientReady, not at its reply
}

// Load is a set of open sockets.
type Load struct {
	conns []*conn
	wg    sync.WaitGroup
	// Logins is how long it took to log every socket in; LoginCPU the CPU
	// time (user + system) this process spent meanwhile.
	Logins, LoginCPU time.Duration
}

type conn struct {
	c      *websocket.Conn
	wmu    sync.Mutex
	nextID atomic.Int64
	// replies, when set, gets every result or error frame (for pings).
	replies atomic.Pointer[chan []byte]
}

// RaiseFileLimit lifts RLIMIT_NOFILE to its hard limit.
func RaiseFileLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur
}

// processCPU is this process's CPU time (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Open connects and logs in o.Sockets sockets; it returns when every one
// is logged in (or on the first failure).
func Open(ctx context.Context, o Options) (*Load, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Users <= 0 {
		o.Users = 1
	}
	switch o.UserPrefix {
	case "":
		o.UserPrefix = "load"
	case "-":
		o.UserPrefix = ""
	}
	if o.SourceIPs <= 0 {
		o.SourceIPs = 1
	}
	l := &Load{conns: make([]*conn, o.Sockets)}
	var (
		next    atomic.Int64
		firstMu sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	next.Store(-1)
	start, cpu0 := time.Now(), processCPU()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i >= o.Sockets || ctx.Err() != nil {
					return
				}
				c, err := login(ctx, o, i)
				if err != nil {
					firstMu.Lock()
					if first == nil {
						first = fmt.Errorf("socket %d: %w", i, err)
					}
					firstMu.Unlock()
					next.Store(int64(o.Sockets))
					return
				}
				l.conns[i] = c
			}
		}()
	}
	wg.Wait()
	l.Logins, l.LoginCPU = time.Since(start), processCPU()-cpu0
	if first != nil {
		l.Close()
		return nil, first
	}
	// Keep reading (and dropping) what the server sends, like an idle
	// browser, without holding buffers of our own.
	for _, c := range l.conns {
		l.wg.Add(1)
		go func(c *conn) {
			defer l.wg.Done()
			for {
				_, r, err := c.c.NextReader()
				if err != nil {
					return
				}
				if ch := c.replies.Load(); ch != nil {
					var b bytes.Buffer
					if _, err := b.ReadFrom(r); err != nil {
						return
					}
					if isReply(b.Bytes()) {
						*ch <- b.Bytes()
					}
				}
			}
		}(c)
	}
	return l, nil
}

// isReply: a result or error frame, not a server request.
func isReply(b []byte) bool {
	return !bytes.Contains(b, []byte(`"method"`)) && (bytes.Contains(b, []byte(`"result"`)) || bytes.Contains(b, []byte(`"error"`)))
}

func login(ctx context.Context, o Options, i int) (*conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 512, WriteBufferSize: 512}
	if o.SourceIPs > 1 {
		ip := net.IPv4(127, 0, 0, byte(1+i%o.SourceIPs))
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	c, resp, err := d.DialContext(ctx, o.URL, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	sessid := fmt.Sprintf("load-%d-%d", time.Now().UnixNano(), i)
	user := fmt.Sprintf("%s%d@%s", o.UserPrefix, o.UserBase+i%o.Users, o.Domain)
	req := `{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":` + strconv.Quote(user) + `,"passwd":` +
		strconv.Quote(o.Password) + `,"sessid":` + strconv.Quote(sessid) + `}}`
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	replied, ready := false, !o.WaitReady
	for !replied || !ready {
		_, b, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("login %s: %w", user, err)
		}
		switch {
		case bytes.Contains(b, []byte(`"verto.clientReady"`)):
			ready = true
		case bytes.Contains(b, []byte(`"id":1,`)) || bytes.Contains(b, []byte(`"id":1}`)):
			if bytes.Contains(b, []byte(`"error"`)) {
				c.Close()
				return nil, fmt.Errorf("login %s: %s", user, b)
			}
			replied = true
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Time{})
	cn := &conn{c: c}
	cn.nextID.Store(1)
	return cn, nil
}

// Len is the number of open sockets.
func (l *Load) Len() int { return len(l.conns) }

// Ping sends count verto.ping requests, one at a time, round robin over the
// first probes sockets, and returns each round trip.
func (l *Load) Ping(ctx context.Context, probes, count int) ([]time.Duration, error) {
	probes = min(max(probes, 1), len(l.conns))
	ch := make(chan []byte, 16)
	for _, c := range l.conns[:probes] {
		c.replies.Store(&ch)
	}
	defer func() {
		for _, c := range l.conns[:probes] {
			c.replies.Store(nil)
		}
	}()
	out := make([]time.Duration, 0, count)
	for i := 0; i < count; i++ {
		c := l.conns[i%probes]
		id := c.nextID.Add(1)
		req := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(id, 10) + `,"method":"verto.ping","params":{}}`
		want := []byte(`"id":` + strconv.FormatInt(id, 10))
		t0 := time.Now()
		c.wmu.Lock()
		err := c.c.WriteMessage(websocket.TextMessage, []byte(req))
		c.wmu.Unlock()
		if err != nil {
			return out, err
		}
		for got := false; !got; {
			select {
			case b := <-ch:
				got = bytes.Contains(b, want)
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(10 * time.Second):
				return out, fmt.Errorf("verto.ping %d: no reply in 10 s", id)
			}
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// Quantile returns the q-quantile (0..1) of d (sorted in place).
func Quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(float64(len(d))*q), len(d)-1)]
}

// Close closes every socket.
func (l *Load) Close() {
	for _, c := range l.conns {
		if c != nil {
			_ = c.c.Close()
		}
	}
	l.wg.Wait()
}

// Child runs a load as a child process speaking on stdin/stdout: it opens
// the sockets and prints "ready <n> <logins/s> <CPU ns spent logging in>"
// (or "error <text>"); then
// each "ping <probes> <count>" line is answered "ping <p50 ns> <p99 ns>";
// stdin's end closes the sockets.
func Child(ctx context.Context, o Options, stdin *bufio.Reader, stdout *bufio.Writer) error {
	RaiseFileLimit()
	l, err := Open(ctx, o)
	if err != nil {
		fmt.Fprintf(stdout, "error %v\n", err)
		stdout.Flush()
		return err
	}
	defer l.Close()
	fmt.Fprintf(stdout, "ready %d %.1f %d\n", l.Len(), float64(l.Len())/l.Logins.Seconds(), l.LoginCPU.Nanoseconds())
	stdout.Flush()
	for {
		line, err := stdin.ReadString('\n')
		if err != nil {
			return nil
		}
		var probes, count int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "ping %d %d", &probes, &count); err != nil {
			fmt.Fprintf(stdout, "error bad command %q\n", strings.TrimSpace(line))
			stdout.Flush()
			continue
		}
		d, err := l.Ping(ctx, probes, count)
		if err != nil {
			fmt.Fprintf(stdout, "error %v\n", err)
		} else {
			fmt.Fprintf(stdout, "ping %d %d\n", Quantile(d, 0.5).Nanoseconds(), Quantile(d, 0.99).Nanoseconds())
		}
		stdout.Flush()
	}
}

// Args are o as the command-line flags ChildMain reads.
func (o Options) Args() []string {
	return []string{"--url", o.URL, "--sockets", strconv.Itoa(o.Sockets), "--concurrency", strconv.Itoa(o.Concurrency),
		"--users", strconv.Itoa(o.Users), "--user-prefix", o.UserPrefix, "--user-base", strconv.Itoa(o.UserBase),
		"--domain", o.Domain, "--password", o.Password, "--source-ips", strconv.Itoa(o.SourceIPs),
		"--wait-ready=" + strconv.FormatBool(o.WaitReady)}
}

// ChildMain is the main of a load child process: Options from args (as
// Args writes them), then Child on stdin and stdout. It returns the exit
// code.
func ChildMain(args []string) int {
	var o Options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&o.URL, "url", "", "")
	fs.IntVar(&o.Sockets, "sockets", 1000, "")
	fs.IntVar(&o.Concurrency, "concurrency", 0, "")
	fs.IntVar(&o.Users, "users", 0, "")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "")
	fs.IntVar(&o.UserBase, "user-base", 0, "")
	fs.StringVar(&o.Domain, "domain", "", "")
	fs.StringVar(&o.Password, "password", "", "")
	fs.IntVar(&o.SourceIPs, "source-ips", 0, "")
	fs.BoolVar(&o.WaitReady, "wait-ready", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if Child(context.Background(), o, bufio.NewReader(os.Stdin), bufio.NewWriter(os.Stdout)) != nil {
		return 1
	}
	return 0
}
