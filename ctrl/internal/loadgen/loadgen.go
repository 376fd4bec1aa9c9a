// Package loadgen opens many logged-in Verto sockets to an XCtrl and keeps
// them idle: the load of the idle-socket memory benchmark and of the
// xctrl-load command. Its sockets read nothing but the frames the server
// sends (pings), so that the server side is measured, not the client.
package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
	Users       int    // spread over this many users: <UserPrefix><n>@<Domain>
	UserPrefix  string // ("load")
	Domain      string
	Password    string
	SourceIPs   int // spread sockets over 127.0.0.1..127.0.0.N (avoids ephemeral port exhaustion); 0 = 1
}

// Load is a set of open sockets.
type Load struct {
	conns []*websocket.Conn
	wg    sync.WaitGroup
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

// Open connects and logs in o.Sockets sockets; it returns when every one
// got its login reply (or on the first failure).
func Open(ctx context.Context, o Options) (*Load, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Users <= 0 {
		o.Users = 1
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "load"
	}
	if o.SourceIPs <= 0 {
		o.SourceIPs = 1
	}
	l := &Load{conns: make([]*websocket.Conn, o.Sockets)}
	var (
		next    atomic.Int64
		firstMu sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	next.Store(-1)
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
	if first != nil {
		l.Close()
		return nil, first
	}
	// Keep reading (and dropping) what the server sends, like an idle
	// browser, without holding buffers of our own.
	for _, c := range l.conns {
		l.wg.Add(1)
		go func(c *websocket.Conn) {
			defer l.wg.Done()
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}(c)
	}
	return l, nil
}

func login(ctx context.Context, o Options, i int) (*websocket.Conn, error) {
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
	user := fmt.Sprintf("%s%d@%s", o.UserPrefix, i%o.Users, o.Domain)
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "login",
		"params": map[string]any{"login": user, "passwd": o.Password, "sessid": sessid}})
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, req); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, err
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &m) != nil || string(m.ID) != "1" {
			continue
		}
		if m.Error != nil {
			c.Close()
			return nil, fmt.Errorf("login %s: %s", user, m.Error)
		}
		break
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// Len is the number of open sockets.
func (l *Load) Len() int { return len(l.conns) }

// Close closes every socket.
func (l *Load) Close() {
	for _, c := range l.conns {
		if c != nil {
			_ = c.Close()
		}
	}
	l.wg.Wait()
}

// Child runs a load as a child process speaking on stdin/stdout: it opens
// the sockets, prints "ready <n>" (or "error <text>"), and closes them when
// stdin closes.
func Child(ctx context.Context, o Options, stdin *bufio.Reader, stdout *bufio.Writer) error {
	RaiseFileLimit()
	l, err := Open(ctx, o)
	if err != nil {
		fmt.Fprintf(stdout, "error %v\n", err)
		stdout.Flush()
		return err
	}
	fmt.Fprintf(stdout, "ready %d\n", l.Len())
	stdout.Flush()
	_, _ = stdin.ReadString('\n')
	l.Close()
	return nil
}
