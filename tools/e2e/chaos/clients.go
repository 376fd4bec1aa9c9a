package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"xccrtc/tools/client"
)

// clientOptions are the options of every client of the harness.
func (s *System) clientOptions(url, login, sessid string) client.Options {
	return client.Options{URL: url, Login: login, Passwd: Password, Sessid: sessid,
		Settings: client.LoopbackSettings(), RequestTimeout: 5 * time.Second, ReadyTimeout: 3 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
}

// dial logs login in on url (a new sessid when sessid is "").
func (s *System) dial(ctx context.Context, url, login, sessid string) (*client.Client, error) {
	return client.Dial(ctx, s.clientOptions(url, login, sessid))
}

// Caller is a user with an answered call carrying audio both ways. When
// its XCtrl goes away it can log in again elsewhere with the same sessid
// and take the call back (Relogin), as verto.js does after a reconnect:
// the node re-offers it with verto.attach and the media resumes on a new
// peer connection. Its received-packet count spans every leg.
type Caller struct {
	sys   *System
	Login string
	Dest  string

	mu     sync.Mutex
	cl     *client.Client
	call   *client.Call
	base   uint64 // RTP packets received by earlier legs
	all    []*client.Client
	sessid string
}

// Call logs login in on XCtrl ctrl, calls dest and waits for the answer and
// the first audio back.
func (s *System) Call(ctx context.Context, ctrl int, dest string) (*Caller, error) {
	c := &Caller{sys: s, Login: s.User(), Dest: dest}
	cl, err := s.dial(ctx, s.Ctrls[ctrl].WS, c.Login, "")
	if err != nil {
		return nil, fmt.Errorf("login %s on %s: %w", c.Login, s.Ctrls[ctrl].Name, err)
	}
	c.cl, c.sessid, c.all = cl, cl.Sessid(), []*client.Client{cl}
	call, err := cl.Call(ctx, dest, client.CallOptions{Audio: client.Tone(1000)})
	if err == nil {
		c.call = call
		if err = call.WaitAnswered(ctx); err == nil {
			err = call.WaitReceived(ctx, 10)
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("call %s from %s: %w", dest, c.Login, err)
	}
	return c, nil
}

// Calls places n calls at once (a few at a time); at gives each call's
// XCtrl and destination.
func (s *System) Calls(ctx context.Context, n int, at func(i int) (int, string)) ([]*Caller, error) {
	out := make([]*Caller, n)
	err := parallel(ctx, n, 4, func(ctx context.Context, i int) error {
		ctrl, dest := at(i)
		c, err := s.Call(ctx, ctrl, dest)
		out[i] = c
		return err
	})
	if err != nil {
		for _, c := range out {
			if c != nil {
				c.Close()
			}
		}
		return nil, err
	}
	return out, nil
}

// Received is the RTP packets received on the call, every leg counted.
func (c *Caller) Received() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base + c.call.Report().RTPPacketsReceived
}

// Lost is the RTP packets the call's current leg lost (sequence gaps).
func (c *Caller) Lost() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call.Report().RTPPacketsLost
}

// ID is the call's id.
func (c *Caller) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call.ID()
}

// Node is the node of the call.
func (c *Caller) Node() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call.NodeUUID()
}

// Done is closed when the current leg of the call ended.
func (c *Caller) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call.Done()
}

// Up reports whether the call has not ended.
func (c *Caller) Up() bool {
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}

// Ended says how the call ended ("" while it is up).
func (c *Caller) Ended() string {
	if c.Up() {
		return ""
	}
	c.mu.Lock()
	r := c.call.Report()
	c.mu.Unlock()
	s := r.HangupCause
	if s == "" {
		s = "no cause"
	}
	if r.EndedBy != "" {
		s += " by " + r.EndedBy
	}
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// WaitMedia waits until the call has received n packets in all (its
// current leg).
func (c *Caller) WaitMedia(ctx context.Context, n uint64) error {
	c.mu.Lock()
	call, base := c.call, c.base
	c.mu.Unlock()
	if n <= base {
		return nil
	}
	return call.WaitReceived(ctx, n-base)
}

// GoSilent makes the caller's socket fall silent, as a vanished peer's
// (tools/client's GoSilent).
func (c *Caller) GoSilent() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cl.GoSilent()
}

// SocketLost is closed when the caller's current socket is gone.
func (c *Caller) SocketLost() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cl.Done()
}

// Relogin waits until the caller's socket is gone, logs in again on url
// with the same sessid, and takes back the call the node re-offers
// (verto.attach). It returns once the call carries audio again.
func (c *Caller) Relogin(ctx context.Context, url string) error {
	select {
	case <-c.SocketLost():
	case <-ctx.Done():
		return fmt.Errorf("%s: socket still up: %w", c.Login, ctx.Err())
	}
	c.mu.Lock()
	old := c.call
	c.mu.Unlock()
	cl, err := c.sys.dial(ctx, url, c.Login, c.sessid)
	if err != nil {
		return fmt.Errorf("%s: log in again: %w", c.Login, err)
	}
	c.mu.Lock()
	c.all = append(c.all, cl)
	c.mu.Unlock()
	var back *client.Call
	for back == nil {
		select {
		case call, ok := <-cl.Incoming():
			if !ok {
				return fmt.Errorf("%s: client ended before the call came back: %v", c.Login, cl.Err())
			}
			if call.Recovered() && call.ID() == old.ID() {
				back = call
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: call %s not re-offered: %w", c.Login, old.ID(), ctx.Err())
		}
	}
	<-old.Done()
	c.mu.Lock()
	c.base += old.Report().RTPPacketsReceived
	c.cl, c.call = cl, back
	c.mu.Unlock()
	return back.WaitReceived(ctx, 10)
}

// Reload drops the caller's socket and logs in on url with the same sessid
// (a page reload, tools/client's Reload): the node must re-offer the call,
// which the XCtrl finds in the call book. It returns once audio flows on
// the re-attached call.
func (c *Caller) Reload(ctx context.Context, url string) error {
	c.mu.Lock()
	cl, call := c.cl, c.call
	c.mu.Unlock()
	before := call.Report().RTPPacketsReceived
	if err := cl.Reload(ctx, url); err != nil {
		return fmt.Errorf("%s: reload: %w", c.Login, err)
	}
	if !slices.Contains(cl.Reattached(), call.ID()) {
		return fmt.Errorf("%s: reload: call %s not re-attached (reattached_sessions %v)", c.Login, call.ID(), cl.Reattached())
	}
	return call.WaitReceived(ctx, before+10)
}

// Close hangs the call up and closes every client of the caller.
func (c *Caller) Close() {
	c.mu.Lock()
	all := c.all
	c.mu.Unlock()
	for _, cl := range all {
		_ = cl.Close()
	}
}

// Idle is a logged-in socket without a call. It answers calls to its user
// (with a tone) and hands them over on Answered.
type Idle struct {
	Login    string
	Ctrl     string // ctrl_uuid of its XCtrl
	cl       *client.Client
	answered chan *client.Call
	done     chan struct{}
}

// Idle logs n sockets in (a few at a time); at gives each one's XCtrl.
func (s *System) Idle(ctx context.Context, n int, at func(i int) int) ([]*Idle, error) {
	out := make([]*Idle, n)
	err := parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		ctrl := at(i)
		login := s.User()
		cl, err := s.dial(ctx, s.Ctrls[ctrl].WS, login, "")
		if err != nil {
			return fmt.Errorf("login %s on %s: %w", login, s.Ctrls[ctrl].Name, err)
		}
		out[i] = newIdle(cl, login, s.Ctrls[ctrl].UUID)
		return nil
	})
	if err != nil {
		CloseIdle(out)
		return nil, err
	}
	return out, nil
}

func newIdle(cl *client.Client, login, ctrl string) *Idle {
	id := &Idle{Login: login, Ctrl: ctrl, cl: cl, answered: make(chan *client.Call, 4), done: make(chan struct{})}
	go func() {
		defer close(id.done)
		for call := range cl.Incoming() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := call.Answer(ctx, client.CallOptions{Audio: client.Tone(800)})
			cancel()
			if err == nil {
				select {
				case id.answered <- call:
				default:
				}
			}
		}
	}()
	return id
}

// Sessid is the socket's session id.
func (id *Idle) Sessid() string { return id.cl.Sessid() }

// Open reports whether the socket is still up.
func (id *Idle) Open() bool {
	select {
	case <-id.cl.Done():
		return false
	default:
		return true
	}
}

// CloseIdle closes idle sockets (nil entries skipped).
func CloseIdle(ids []*Idle) {
	for _, id := range ids {
		if id != nil {
			_ = id.cl.Close()
			<-id.done
		}
	}
}

// CallUser has node call the idle socket's user and checks that it rings
// there, is answered and carries audio both ways; then it hangs up.
func (s *System) CallUser(ctx context.Context, node *Node, id *Idle) error {
	if err := node.Originate(ctx, id.Login, "echo"); err != nil {
		return fmt.Errorf("call to %s: %w", id.Login, err)
	}
	var call *client.Call
	select {
	case call = <-id.answered:
	case <-ctx.Done():
		return fmt.Errorf("call to %s: answered at the node, not at the client: %w", id.Login, ctx.Err())
	}
	defer func() { _ = call.Hangup(context.Background()) }()
	if err := call.WaitReceived(ctx, 10); err != nil {
		return fmt.Errorf("call to %s: no audio: %w", id.Login, err)
	}
	return nil
}

// NewCall is one new call: a fresh login on XCtrl ctrl calls dest; it
// succeeds once the call is answered and audio comes back.
func (s *System) NewCall(ctx context.Context, ctrl int, dest string) error {
	c, err := s.Call(ctx, ctrl, dest)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// Recover tries new calls to dest, one after the other, each bounded by
// attempt, round the XCtrl instances ctrls, until one is served; it
// returns the time from since to that answer with audio.
func (s *System) Recover(ctx context.Context, since time.Time, attempt time.Duration, ctrls []int, dest string) (time.Duration, error) {
	var last error
	for i := 0; ; i++ {
		actx, cancel := context.WithTimeout(ctx, attempt)
		t := time.Now()
		err := s.NewCall(actx, ctrls[i%len(ctrls)], dest)
		cancel()
		if err == nil {
			return time.Since(since), nil
		}
		last = err
		s.log.Info("new call failed", "after", time.Since(since).Round(time.Millisecond), "took", time.Since(t).Round(time.Millisecond), "err", err)
		if ctx.Err() != nil {
			return -1, fmt.Errorf("no new call served: %w", last)
		}
		if time.Since(t) < 50*time.Millisecond && !pause(ctx, 50*time.Millisecond) { // pacing fast failures
			return -1, fmt.Errorf("no new call served: %w", last)
		}
	}
}

// parallel runs f for 0..n-1 with at most width at a time; the first error
// cancels the rest.
func parallel(ctx context.Context, n, width int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, width)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
