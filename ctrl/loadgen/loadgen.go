// Package loadgen opens many logged-in Verto sockets to a Verto server
// (XCtrl, or FreeSWITCH's mod_verto: the same client for both) and keeps
// them idle: the load of the idle-socket memory benchmark and of
// tools/xrtc-bench. It times the logins and, on request, verto.ping round
// trips. Its sockets read nothing but the frames the server sends, so that
// the server side is measured, not the client; and each socket costs the
// client as little as a WebSocket can (gobwas/ws: a handshake without
// net/http, a login in one write), because on one machine the client's CPU
// is taken from the server it measures.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
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
	nc     net.Conn
	r      *bufio.Reader
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
				b, err := c.read()
				if err != nil {
					return
				}
				if ch := c.replies.Load(); ch != nil && isReply(b) {
					*ch <- b
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
	// No TCP keep-alive: four setsockopt calls a socket saved, and an idle
	// socket here is kept open by the server's pings.
	nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}
	if o.SourceIPs > 1 {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.SourceIPs))}
	}
	d := ws.Dialer{Timeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 512, NetDial: nd.DialContext}
	nc, br, _, err := d.Dial(ctx, o.URL)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 512)
	}
	c := &conn{nc: nc, r: br}
	sessid := "load-" + strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + strconv.Itoa(i)
	user := o.UserPrefix + strconv.Itoa(o.UserBase+i%o.Users) + "@" + o.Domain
	req := `{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":` + strconv.Quote(user) + `,"passwd":` +
		strconv.Quote(o.Password) + `,"sessid":` + strconv.Quote(sessid) + `}}`
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	replied, ready := false, !o.WaitReady
	for !replied || !ready {
		b, err := c.read()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("login %s: %w", user, err)
		}
		switch {
		case bytes.Contains(b, []byte(`"verto.clientReady"`)):
			ready = true
		case bytes.Contains(b, []byte(`"id":1,`)) || bytes.Contains(b, []byte(`"id":1}`)):
			if bytes.Contains(b, []byte(`"error"`)) {
				nc.Close()
				return nil, fmt.Errorf("login %s: %s", user, b)
			}
			replied = true
		}
	}
	_ = nc.SetDeadline(time.Time{})
	c.nextID.Store(1)
	return c, nil
}

// maxMessage bounds a message the client takes from the server.
const maxMessage = 1 << 20

// write sends p as one masked text frame, in one write.
func (c *conn) write(p []byte) error { return c.writeFrame(ws.OpText, p) }

func (c *conn) writeFrame(op ws.OpCode, p []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(p))}
	var buf bytes.Buffer
	buf.Grow(ws.HeaderSize(h) + len(p))
	if err := ws.WriteHeader(&buf, h); err != nil {
		return err
	}
	start := buf.Len()
	buf.Write(p)
	ws.Cipher(buf.Bytes()[start:], h.Mask, 0)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(buf.Bytes())
	return err
}

// read returns the next data message (its fragments joined), answering
// pings on the way; a close frame ends the socket (io.EOF).
func (c *conn) read() ([]byte, error) {
	var msg []byte
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return nil, err
		}
		if h.Length > maxMessage || int64(len(msg))+h.Length > maxMessage {
			return nil, fmt.Errorf("a message over %d bytes", maxMessage)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, p); err != nil {
				return nil, err
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			_ = c.writeFrame(ws.OpClose, nil)
			return nil, io.EOF
		}
		msg = append(msg, p...)
		if h.Fin {
			return msg, nil
		}
	}
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
		if err := c.write([]byte(req)); err != nil {
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
			_ = c.nc.Close()
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
