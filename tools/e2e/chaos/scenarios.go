package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/ctrl"
	"xccrtc/verto"
)

// Scale sizes the scenarios.
type Scale struct {
	Calls     int           // answered calls with audio when the fault comes
	Idle      int           // logged-in sockets without a call
	Sockets   int           // sockets that never log in
	Flood     int           // sockets flooding garbage
	Logins    int           // logins while a NATS cluster member dies
	UserCalls int           // calls from a node to logged-in users after a NATS fault
	Outage    time.Duration // how long NATS stays down
	// Media is how many RTP packets a call must receive after the fault to
	// count as kept (20 ms each).
	Media uint64
	// Attempt bounds one new call while recovery is measured; Settle bounds
	// the wait for calls to show audio, for the registry to be complete.
	Attempt, Settle time.Duration
	// WaitEnds waits for the calls that must end to end: those of a killed
	// node (XCtrl declares it dead after 10 s of no responders) and one
	// whose client never comes back after its XCtrl was killed (the node's
	// detach-timeout, here 10 s).
	WaitEnds bool
}

// Full is the scale of the chaos suite (tools/xrtc-chaos).
var Full = Scale{Calls: 20, Idle: 200, Sockets: 2000, Flood: 20, Logins: 200, UserCalls: 4, Outage: 60 * time.Second,
	Media: 100, Attempt: 5 * time.Second, Settle: 30 * time.Second, WaitEnds: true}

// Small is the scale of the end-to-end tests (go test ./tools/e2e).
var Small = Scale{Calls: 4, Idle: 20, Sockets: 200, Flood: 4, Logins: 20, UserCalls: 2, Outage: 6 * time.Second,
	Media: 50, Attempt: 8 * time.Second, Settle: 30 * time.Second}

// Env is what a scenario runs with.
type Env struct {
	Bins  Bins
	Dir   string // each scenario works in Dir/<name>
	Scale Scale
	Log   *slog.Logger // the harness's progress (nil: none)
}

// Scenario is one fault and what must survive it.
type Scenario struct {
	Name  string
	About string
	run   func(r *run)
}

// Scenarios are the chaos suite, in the order the table lists them.
func Scenarios() []Scenario {
	return []Scenario{
		{"xctrl-kill", "XCtrl SIGKILLed under calls; clients log in again on the other XCtrl (same sessid, verto.attach)", xctrlDown(true)},
		{"xctrl-term", "XCtrl SIGTERMed (drain) under calls; clients log in again on the other XCtrl", xctrlDown(false)},
		{"nats-restart-term", "the NATS server SIGTERMed and restarted under calls and idle sockets (buckets on file storage)", natsRestart(false)},
		{"nats-restart-kill", "the NATS server SIGKILLed and restarted under calls and idle sockets, buckets in memory (lost: XCtrl re-creates them)", natsRestart(true)},
		{"nats-down", "NATS down for the outage, then back", natsDown},
		{"node-kill", "one of two nodes SIGKILLed under calls; new calls to its destination", nodeKill},
		{"sockets-no-login", "one client opens sockets and never logs in", socketsNoLogin},
		{"peer-vanish", "half the callers' sockets fall silent without closing (no frame, no pong); they log in again", peerVanish},
		{"garbage-flood", "sockets flooding undecodable frames, before and after login", garbageFlood},
		{"one-user-flood", "one credential opens 300 sockets and floods logins and invites", oneUserFlood},
		{"overlong-ids", "over-long and malformed identifiers on the WebSocket and on NATS", overlongIDs},
		{"nats-cluster-member-kill", "3-server NATS cluster, registry with 3 replicas: the member of one XCtrl SIGKILLed during calls and logins, then restarted", clusterMemberKill},
	}
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc, true
		}
	}
	return Scenario{}, false
}

// Run runs the scenario: it starts its system, injects the fault, measures
// and stops everything it started.
func (sc Scenario) Run(ctx context.Context, env Env) (res Result) {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	r := &run{ctx: ctx, env: env, sc: env.Scale, log: env.Log.With("scenario", sc.Name), res: &Result{Scenario: sc.Name}}
	start := time.Now()
	defer func() {
		if r.sys != nil {
			for _, c := range r.callers {
				c.Close()
			}
			CloseIdle(r.idle)
			r.sys.Close()
			r.res.Logs = r.sys.Logs()
		}
		r.res.Took = time.Since(start)
		res = *r.res
	}()
	sc.run(r)
	return
}

// run is one scenario run.
type run struct {
	ctx     context.Context
	env     Env
	sc      Scale
	log     *slog.Logger
	res     *Result
	sys     *System
	callers []*Caller
	idle    []*Idle

	mu sync.Mutex // res.Notes and res.Problems: a scenario measures several things at once
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Notes = append(r.res.Notes, fmt.Sprintf(format, args...))
}

func (r *run) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	r.log.Warn("problem", "what", p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Problems = append(r.res.Problems, p)
}

// start starts the system; false (with a problem) if it did not start.
func (r *run) start(o Options) bool {
	o.Bins, o.Log = r.env.Bins, r.log
	o.Dir = filepath.Join(r.env.Dir, r.res.Scenario)
	o.Users = r.sc.Calls + r.sc.Idle + r.sc.Logins + r.sc.Flood + 500
	sctx, cancel := context.WithTimeout(r.ctx, 60*time.Second)
	defer cancel()
	s, err := Start(sctx, o)
	if err != nil {
		r.problem("setup: %v", err)
		return false
	}
	r.sys = s
	r.log.Info("system up", "dir", o.Dir)
	return true
}

// calls places Scale.Calls calls; at gives each one's XCtrl and
// destination.
func (r *run) calls(at func(i int) (int, string)) bool {
	cs, err := r.sys.Calls(r.ctx, r.sc.Calls, at)
	if err != nil {
		r.problem("setup: calls: %v", err)
		return false
	}
	r.callers = cs
	r.log.Info("calls up", "calls", len(cs))
	return true
}

// idleSockets logs Scale.Idle sockets in, alternating between the XCtrl
// instances.
func (r *run) idleSockets() bool {
	ids, err := r.sys.Idle(r.ctx, r.sc.Idle, func(i int) int { return i % len(r.sys.Ctrls) })
	if err != nil {
		r.problem("setup: idle sockets: %v", err)
		return false
	}
	r.idle = ids
	return true
}

// marks are the packets each call has received so far.
func marks(cs []*Caller) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.Received()
	}
	return out
}

// judge counts as kept the calls that are up and received Scale.Media
// packets past their mark (within Scale.Settle), the others as lost.
func (r *run) judge(cs []*Caller, mark []uint64) {
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		gaps int64
	)
	lost := map[string]int{}
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.WaitMedia(ctx, mark[i]+r.sc.Media)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && c.Up() {
				r.res.Kept++
				gaps += c.Lost()
				return
			}
			r.res.Lost++
			why := c.Ended()
			if why == "" {
				why = "no audio since the fault"
			}
			lost[why]++
		}()
	}
	wg.Wait()
	r.res.Calls += len(cs)
	for why, n := range lost {
		r.problem("%d call(s) lost: %s", n, why)
	}
	if r.res.Kept > 0 {
		r.note("RTP lost on kept calls' current legs: %d packets", gaps)
	}
}

// recover measures the time from since to the first new call served
// through the XCtrl instances ctrls.
func (r *run) recover(since time.Time, ctrls []int, dest string) {
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	d, err := r.sys.Recover(ctx, since, r.sc.Attempt, ctrls, dest)
	r.res.Recover = d
	if err != nil {
		r.problem("%v", err)
	}
}

// healthy checks that every running XCtrl says 200 on /healthz.
func (r *run) healthy(ctrls ...*Ctrl) {
	for _, c := range ctrls {
		ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
		err := c.WaitHealthy(ctx, 1)
		cancel()
		if err != nil {
			r.problem("%v", err)
		}
	}
}

// onTheBus checks that no XCtrl or node had NATS close its connection.
func (r *run) onTheBus() {
	if n := r.sys.OffTheBus(); n > 0 {
		r.problem("%d NATS connection(s) closed for good (a component was put off the bus)", n)
	}
}

// registry waits until the registry holds every live socket and says how
// long it took from since.
func (r *run) registry(since time.Time) {
	want := map[string]string{}
	for _, id := range r.idle {
		if id.Open() {
			want[id.Sessid()] = id.Ctrl
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	missing, err := r.sys.WaitRegistry(ctx, want)
	if err != nil {
		r.problem("registry: %d of %d sockets missing: %v", missing, len(want), err)
		return
	}
	r.note("registry complete (%d sockets) %.2f s after", len(want), time.Since(since).Seconds())
}

// callUsers has a node call Scale.UserCalls idle users (alternating
// between XCtrl instances), each answered with audio.
func (r *run) callUsers(node *Node) {
	ok := 0
	n := min(r.sc.UserCalls, len(r.idle))
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.sc.Attempt)
		err := r.sys.CallUser(ctx, node, r.idle[i])
		cancel()
		if err != nil {
			r.problem("%v", err)
			continue
		}
		ok++
	}
	r.note("calls to users %d/%d", ok, n)
}

// reload reloads the first call's page onto the other XCtrl: its node must
// re-offer the call, found through the call book (which a NATS restart
// must not lose either).
func (r *run) reload() {
	if len(r.callers) == 0 || len(r.sys.Ctrls) < 2 {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	c := r.callers[0]
	if err := c.Reload(ctx, r.sys.Ctrls[1].WS); err != nil {
		r.problem("%v", err)
		return
	}
	r.note("a page reloaded onto the other XCtrl got its call back")
}

// idleOpen checks that the idle sockets are still open.
func (r *run) idleOpen() {
	open := 0
	for _, id := range r.idle {
		if id.Open() {
			open++
		}
	}
	if open != len(r.idle) {
		r.problem("%d of %d idle sockets closed", len(r.idle)-open, len(r.idle))
	}
	r.note("idle sockets open %d/%d", open, len(r.idle))
}

// xctrlDown: the XCtrl holding every call dies (SIGKILL) or is stopped
// (SIGTERM); each client logs in again on the other instance with its
// sessid and takes its call back.
func xctrlDown(kill bool) func(r *run) {
	return func(r *run) {
		o := Options{Ctrls: 2, Nodes: 1}
		detach := 10 * time.Second
		if kill && !r.sc.WaitEnds {
			// Only the detach is awaited: the node's XCtrl watch made quick.
			o.NodeArgs = []string{"--ctrl-probe", "500ms", "--ctrl-dead", "2s"}
		}
		o.NodeArgs = append(o.NodeArgs, "--detach-timeout", detach.String())
		if !r.start(o) || !r.calls(func(int) (int, string) { return 0, DestEcho }) {
			return
		}
		var abandoned *Caller
		if kill {
			// One more call whose client never comes back: the node must
			// see its XCtrl gone and start the detach timer, not wait for
			// media-timeout.
			c, err := r.sys.Call(r.ctx, 0, DestEcho)
			if err != nil {
				r.problem("setup: %v", err)
				return
			}
			abandoned = c
			defer c.Close()
		}
		mark := marks(r.callers)
		other := r.sys.Ctrls[1].WS
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			back []time.Duration
			errs []string
		)
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
		defer cancel()
		for _, c := range r.callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Relogin(rctx, other)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				back = append(back, time.Since(t0))
			}()
		}
		victim := r.sys.Ctrls[0]
		if kill {
			victim.Kill()
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := victim.Term(15 * time.Second); err != nil {
					r.problem("drain: %v", err)
				} else {
					r.note("drained and stopped in %.2f s", time.Since(t0).Seconds())
				}
			}()
		}
		r.recover(t0, []int{1}, DestEcho)
		wg.Wait()
		for _, e := range errs {
			r.problem("%s", e)
		}
		r.note("%d/%d calls re-attached on the other XCtrl (verto.attach), audio back %s after the fault", len(back), len(r.callers), spread(back))
		r.judge(r.callers, mark)
		r.healthy(r.sys.Ctrls[1])
		if abandoned != nil {
			r.abandoned(abandoned, t0, detach)
		}
	}
}

// abandoned follows a call whose client never came back after its XCtrl
// was killed: the node detaches it once the XCtrl has no responders, and
// (WaitEnds) ends it after its detach-timeout.
func (r *run) abandoned(c *Caller, t0 time.Time, detach time.Duration) {
	node, id := r.sys.Nodes[0], c.ID()
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle+detach)
	defer cancel()
	if err := node.WaitCallState(ctx, id, "detached"); err != nil {
		r.problem("a call whose client never came back: %v", err)
		return
	}
	detached := time.Since(t0)
	if !r.sc.WaitEnds {
		r.note("a call whose client never came back: detached by its node %.1f s after the kill", detached.Seconds())
		return
	}
	if err := node.WaitCallState(ctx, id, ""); err != nil {
		r.problem("a call whose client never came back: %v", err)
		return
	}
	r.note("a call whose client never came back: detached by its node %.1f s after the kill, ended %.1f s after (detach-timeout %v)",
		detached.Seconds(), time.Since(t0).Seconds(), detach)
}

// natsRestart: the only NATS server is stopped (SIGTERM) or killed and
// started again on its port and store. With kill the buckets are kept in
// memory (--registry-memory): the restart loses them, as the issue found
// it, and XCtrl must create them again and write its sockets back.
func natsRestart(kill bool) func(r *run) {
	return func(r *run) {
		o := Options{Ctrls: 2, Nodes: 1}
		if kill {
			o.CtrlArgs = []string{"--registry-memory"}
		}
		if !r.start(o) || !r.calls(func(i int) (int, string) { return i % 2, DestEcho }) || !r.idleSockets() {
			return
		}
		mark := marks(r.callers)
		ns := r.sys.NATS[0]
		t0 := time.Now()
		if kill {
			ns.Kill()
		} else if err := ns.Term(10 * time.Second); err != nil {
			r.problem("nats stop: %v", err)
		}
		if err := ns.Restart(r.ctx); err != nil {
			r.problem("nats restart: %v", err)
			return
		}
		back := time.Now()
		r.note("NATS down %.2f s", back.Sub(t0).Seconds())
		r.afterNATS(back, mark)
	}
}

// afterNATS measures what a NATS outage left: new calls from when NATS
// was back, then what survives.
func (r *run) afterNATS(back time.Time, mark []uint64) {
	r.recover(back, []int{0, 1}, DestEcho)
	r.survivors(back, r.sys.Nodes[0], mark)
	r.onTheBus()
}

// survivors checks what must survive a NATS fault: the registry (timed
// from since), calls from node to users, a page reload finding its call,
// the calls' audio, the idle sockets, every XCtrl's health.
func (r *run) survivors(since time.Time, node *Node, mark []uint64) {
	r.registry(since)
	r.callUsers(node)
	r.reload()
	r.judge(r.callers, mark)
	r.idleOpen()
	r.healthy(r.sys.Ctrls...)
}

// natsDown: NATS stays down for Scale.Outage. Nothing may end meanwhile:
// XCtrl is off the bus itself and must not take the nodes' silence for
// death. An outage longer than XCtrl's node expiry (45 s) runs on the
// defaults; a shorter one sets the expiry below it (and the nodes'
// heartbeat below that), so that it proves the same.
func natsDown(r *run) {
	o := Options{Ctrls: 2, Nodes: 1}
	expiry := 45 * time.Second
	if r.sc.Outage < 50*time.Second {
		expiry = (r.sc.Outage / 3).Round(100 * time.Millisecond)
		beat := max(expiry/3, 500*time.Millisecond).Round(100 * time.Millisecond)
		o.CtrlArgs = []string{"--node-expiry", expiry.String()}
		o.NodeArgs = []string{"--heartbeat", beat.String()}
	}
	if !r.start(o) || !r.calls(func(i int) (int, string) { return i % 2, DestEcho }) || !r.idleSockets() {
		return
	}
	mark := marks(r.callers)
	ns := r.sys.NATS[0]
	t0 := time.Now()
	ns.Kill()
	// The point is that nothing happens while NATS is down: a bounded wait.
	if !pause(r.ctx, r.sc.Outage) {
		r.problem("outage cut short: %v", r.ctx.Err())
		return
	}
	// Audio went on meanwhile (at least half of it: 20 ms packets).
	want := uint64(r.sc.Outage / (40 * time.Millisecond))
	during := 0
	for i, c := range r.callers {
		if c.Up() && c.Received()-mark[i] >= want {
			during++
		}
	}
	r.note("NATS down %.0f s (XCtrl node expiry %v): %d/%d calls carried audio throughout", time.Since(t0).Seconds(), expiry, during, len(r.callers))
	if during != len(r.callers) {
		r.problem("%d call(s) without audio or ended during the outage", len(r.callers)-during)
	}
	if err := ns.Restart(r.ctx); err != nil {
		r.problem("nats restart: %v", err)
		return
	}
	r.afterNATS(time.Now(), mark)
}

// nodeKill: two nodes, calls on both; one is SIGKILLed. The calls on the
// other go on; new calls to the destination that hashes to the dead node
// are served by the live one.
func nodeKill(r *run) {
	if !r.start(Options{Ctrls: 2, Nodes: 2}) {
		return
	}
	dests := []string{DestEcho, DestTone}
	if !r.calls(func(i int) (int, string) { return (i / 2) % 2, dests[i%2] }) {
		return
	}
	victim, live := r.sys.Nodes[0], r.sys.Nodes[1]
	var onLive, onDead []*Caller
	for _, c := range r.callers {
		switch c.Node() {
		case live.UUID:
			onLive = append(onLive, c)
		case victim.UUID:
			onDead = append(onDead, c)
		default:
			r.problem("call of %s on unknown node %q", c.Login, c.Node())
		}
	}
	if len(onLive) == 0 || len(onDead) == 0 {
		r.problem("setup: calls not on both nodes (%d on the victim, %d on the other)", len(onDead), len(onLive))
	}
	mark := marks(onLive)
	t0 := time.Now()
	victim.Kill()
	r.recover(t0, []int{0, 1}, DestEcho)
	r.judge(onLive, mark)
	r.healthy(r.sys.Ctrls...)
	if !r.sc.WaitEnds {
		r.note("%d call(s) were on the killed node", len(onDead))
		return
	}
	// The calls of the dead node end when XCtrl declares it dead.
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	var ended []time.Duration
	causes := map[string]int{}
	for _, c := range onDead {
		select {
		case <-c.Done():
			ended = append(ended, time.Since(t0))
			causes[c.Ended()]++
		case <-ctx.Done():
			causes["still up"]++
		}
	}
	r.note("%d call(s) on the killed node ended %s after the kill (%v)", len(onDead), spread(ended), causes)
}

// socketsNoLogin: one client (its own address) opens Scale.Sockets sockets
// and never logs in, while calls go on. XCtrl takes at most its bound of
// sockets not logged in from one address (256 by default) and closes the
// rest as they come: the flood cannot take its file descriptors, other
// clients still log in and call (recover), and /healthz answers.
func socketsNoLogin(r *run) {
	if !r.start(Options{Ctrls: 1, Nodes: 1}) || !r.calls(func(int) (int, string) { return 0, DestEcho }) {
		return
	}
	mark := marks(r.callers)
	x := r.sys.Ctrls[0]
	rss0 := RSS(x.Pid())
	t0 := time.Now()
	socks := make([]*raw, r.sc.Sockets)
	var refused atomic.Int64
	err := parallel(r.ctx, len(socks), 50, func(ctx context.Context, i int) error {
		s, err := dialRawFrom(ctx, x.WS, floodAddr, false)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			refused.Add(1)
			return nil
		}
		socks[i] = s
		return nil
	})
	defer closeAll(socks)
	if err != nil {
		r.problem("opening sockets: %v", err)
		return
	}
	opened := time.Since(t0)
	held := len(socks) - int(refused.Load())
	if held == 0 {
		r.problem("XCtrl took none of the %d sockets", len(socks))
	}
	if held > maxPreLoginDefault {
		r.problem("XCtrl took %d sockets not logged in from one address (bound %d)", held, maxPreLoginDefault)
	}
	rss1 := RSS(x.Pid())
	r.recover(time.Now(), []int{0}, DestEcho)
	r.judge(r.callers, mark)
	r.healthy(x)
	r.note("%d sockets tried from %s in %.2f s, none logged in: %d taken, %d closed as they came; xctrl RSS %+.1f MiB (%.1f KiB a socket taken)",
		len(socks), floodAddr, opened.Seconds(), held, refused.Load(), float64(rss1-rss0)/(1<<20), float64(rss1-rss0)/1024/float64(max(held, 1)))
}

// oneUserFlood: one credential (a user's password, all a hostile client
// needs) opens 300 sockets from one address and logs them all in, then
// sends invites from every one as fast as the socket's rate allows, and
// logs in and out in a loop. XCtrl's per-user bounds hold (256 logged-in
// sockets, 200 messages a second with a burst of 2,000, 5 invites a second
// with a burst of 20, 1 MiB a second with a burst of 8 MiB, 10 logins a
// second with a burst of 300): the node sees a few dozen of the invites and
// of the 1,024 frames of 200 KiB sent after them, and the other users'
// calls never notice.
func oneUserFlood(r *run) {
	if !r.start(Options{Ctrls: 1, Nodes: 1}) || !r.calls(func(int) (int, string) { return 0, DestEcho }) {
		return
	}
	mark := marks(r.callers)
	x := r.sys.Ctrls[0]
	user := r.sys.User()
	const sockets, maxPerUser = 300, 256
	socks := make([]*raw, sockets)
	var in, tooMany atomic.Int64
	err := parallel(r.ctx, sockets, 50, func(ctx context.Context, i int) error {
		s, err := dialRawFrom(ctx, x.WS, floodAddr, true)
		if err != nil {
			return err
		}
		socks[i] = s
		lctx, cancel := context.WithTimeout(ctx, r.sc.Attempt)
		defer cancel()
		switch err := s.login(lctx, user, ctrl.NewUUID()); {
		case err == nil:
			in.Add(1)
		case strings.Contains(err.Error(), verto.MsgTooManySockets):
			tooMany.Add(1)
		default:
			return fmt.Errorf("login %d: %w", i, err)
		}
		return nil
	})
	defer closeAll(socks)
	if err != nil {
		r.problem("opening sockets: %v", err)
		return
	}
	if in.Load() != maxPerUser || tooMany.Load() != sockets-maxPerUser {
		r.problem("one user logged in %d sockets (%d refused as too many), want %d in", in.Load(), tooMany.Load(), maxPerUser)
	}
	// Invites from every logged-in socket, 20 each, as fast as they go.
	const perSocket = 20
	t0 := time.Now()
	var reached, limited atomic.Int64
	err = parallel(r.ctx, sockets, 50, func(ctx context.Context, i int) error {
		s := socks[i]
		for k := 0; k < perSocket; k++ {
			m, err := s.request(ctx, verto.MethodInvite, map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{
				"callID": ctrl.NewUUID(), "destination_number": DestEcho}})
			if err != nil {
				return nil // not logged in (refused above), or closed
			}
			switch {
			case m.Error != nil && m.Error.Message == verto.MsgRateLimited:
				limited.Add(1)
			case m.Error != nil && m.Error.Code == verto.CodeAuthRequired:
				return nil // one of the sockets refused as too many
			default:
				reached.Add(1) // the node answered (created it, or refused the SDP)
			}
		}
		return nil
	})
	took := time.Since(t0)
	if err != nil {
		r.problem("invites: %v", err)
	}
	if most := 20 + int64(5*took.Seconds()) + 5; reached.Load() > most {
		r.problem("%d invites of one user reached the node in %.1f s (bound: a burst of 20, 5 a second)", reached.Load(), took.Seconds())
	}
	// Then frames of 200 KiB (under --max-frame), 4 from every socket:
	// 200 MiB for the node, which the user's messages alone (200 a
	// second) would let through at 40 MiB a second.
	big := map[string]any{"txt": strings.Repeat("x", 200<<10)}
	t1 := time.Now()
	var bigReached, bigLimited atomic.Int64
	err = parallel(r.ctx, sockets, 50, func(ctx context.Context, i int) error {
		s := socks[i]
		for k := 0; k < 4; k++ {
			m, err := s.request(ctx, verto.MethodInfo, big)
			switch {
			case err != nil, m.Error != nil && (m.Error.Code == verto.CodeAuthRequired || m.Error.Message == verto.MsgTooLarge):
				return nil // refused as one socket too many (its frames are capped before login), or closed
			case m.Error != nil && m.Error.Message == verto.MsgRateLimited:
				bigLimited.Add(1)
			default:
				bigReached.Add(1) // the node answered
			}
		}
		return nil
	})
	tookBig := time.Since(t1)
	if err != nil {
		r.problem("large frames: %v", err)
	}
	if most := int64((8<<20+tookBig.Seconds()*(1<<20))/(200<<10)) + 1; bigReached.Load() > most {
		r.problem("%d frames of 200 KiB from one user reached the node in %.1f s (bound: a burst of 8 MiB, 1 MiB a second)", bigReached.Load(), tookBig.Seconds())
	}
	// Logins and logouts in a loop, 400 sockets one after another, the
	// others closed first (else each is refused as one too many).
	closeAll(socks)
	churned, churnLimited := 0, 0
	for i := 0; i < 400 && r.ctx.Err() == nil; i++ {
		s, err := dialRawFrom(r.ctx, x.WS, floodAddr, true)
		if err != nil {
			break
		}
		lctx, cancel := context.WithTimeout(r.ctx, r.sc.Attempt)
		err = s.login(lctx, user, ctrl.NewUUID())
		cancel()
		s.close()
		switch {
		case err == nil:
			churned++
		case strings.Contains(err.Error(), verto.MsgRateLimited), strings.Contains(err.Error(), verto.MsgTooManySockets):
			churnLimited++
		}
	}
	r.recover(time.Now(), []int{0}, DestEcho)
	r.judge(r.callers, mark)
	r.healthy(x)
	r.note("one user: %d of %d sockets logged in (%d refused: too many); %d invites in %.1f s, %d reached the node, %d refused (rate); %d frames of 200 KiB in %.1f s, %d reached the node, %d refused; then %d logins in a loop, %d refused",
		in.Load(), sockets, tooMany.Load(), reached.Load()+limited.Load(), took.Seconds(), reached.Load(), limited.Load(),
		bigReached.Load()+bigLimited.Load(), tookBig.Seconds(), bigReached.Load(), bigLimited.Load(),
		churned+churnLimited, churnLimited)
}

// closeAll closes the sockets of socks that are open (nil entries
// skipped) and forgets them.
func closeAll(socks []*raw) {
	for i, s := range socks {
		if s != nil {
			s.close()
			socks[i] = nil
		}
	}
}

// peerVanish: half the callers' sockets fall silent without closing, as a
// laptop shut or a NAT that forgot them: nothing comes from them, not even
// the pong to a WebSocket ping. XCtrl (a ping each second of silence, peer
// timeout 3 s here) closes them and the node detaches their calls; the
// clients log in again with their sessid and take the calls back. The
// other calls never notice.
func peerVanish(r *run) {
	const ping, timeout = time.Second, 3 * time.Second
	o := Options{Ctrls: 1, Nodes: 1, CtrlArgs: []string{"--ping-interval", ping.String(), "--peer-timeout", timeout.String()}}
	if !r.start(o) || !r.calls(func(int) (int, string) { return 0, DestEcho }) {
		return
	}
	mark := marks(r.callers)
	x := r.sys.Ctrls[0]
	silent := r.callers[:(len(r.callers)+1)/2]
	rctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle+timeout)
	defer cancel()
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		closed, back []time.Duration
		errs         []string
	)
	t0 := time.Now()
	for _, c := range silent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.GoSilent()
			select {
			case <-c.SocketLost():
			case <-rctx.Done():
				mu.Lock()
				errs = append(errs, c.Login+": the silent socket was not closed")
				mu.Unlock()
				return
			}
			lost := time.Since(t0)
			err := c.Relogin(rctx, x.WS)
			mu.Lock()
			defer mu.Unlock()
			closed = append(closed, lost)
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			back = append(back, time.Since(t0))
		}()
	}
	wg.Wait()
	for _, e := range errs {
		r.problem("%s", e)
	}
	r.judge(r.callers, mark)
	r.recover(time.Now(), []int{0}, DestEcho)
	r.healthy(x)
	if len(closed) > 0 {
		r.note("%d/%d silent sockets closed by XCtrl %.1f-%.1f s after they fell silent (ping every %s, peer timeout %s)",
			len(closed), len(silent), slices.Min(closed).Seconds(), slices.Max(closed).Seconds(), ping, timeout)
	}
	if len(back) > 0 {
		r.note("%d/%d of their calls re-attached with audio, the last %.1f s after the silence began; %d other calls untouched",
			len(back), len(silent), slices.Max(back).Seconds(), len(r.callers)-len(silent))
	}
}

// floodAddr is the flooding client's own address; maxPreLoginDefault is
// XCtrl's default bound on one address's sockets not logged in.
const (
	floodAddr          = "127.0.0.9"
	maxPreLoginDefault = 256
)

// garbageFlood: sockets send undecodable frames as fast as they can, half
// of them logged in; each is cut off by its rate limit while calls go on
// and new calls are served.
func garbageFlood(r *run) {
	if !r.start(Options{Ctrls: 1, Nodes: 1}) || !r.calls(func(int) (int, string) { return 0, DestEcho }) {
		return
	}
	mark := marks(r.callers)
	x := r.sys.Ctrls[0]
	const most = 20000 // frames one flooder sends at most
	var (
		frames   atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[string]int{}
	)
	t0 := time.Now()
	for i := 0; i < r.sc.Flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dialRaw(r.ctx, x.WS, true)
			if err != nil {
				r.log.Warn("flooder: dial", "err", err)
				return
			}
			defer s.close()
			if i%2 == 1 {
				lctx, cancel := context.WithTimeout(r.ctx, r.sc.Attempt)
				err := s.login(lctx, r.sys.User(), ctrl.NewUUID())
				cancel()
				if err != nil {
					r.log.Warn("flooder: login", "err", err)
				}
			}
			junk := []byte(`{{{ this is not JSON ` + strings.Repeat("x", 64))
			for k := 0; k < most; k++ {
				if s.write(junk) != nil {
					break
				}
				frames.Add(1)
				select {
				case <-s.closed:
					k = most
				default:
				}
			}
			select {
			case <-s.closed:
			case <-time.After(5 * time.Second): // the flood is over: XCtrl has had its chance to cut it
			}
			how := "open"
			select {
			case <-s.closed:
				how = s.outcome()
				if how != "close 1008" {
					how = "reset"
				}
			default:
			}
			mu.Lock()
			outcomes[how]++
			mu.Unlock()
		}()
	}
	r.recover(t0, []int{0}, DestEcho)
	wg.Wait()
	// XCtrl closes with 1008; a client still writing may see the
	// connection reset (or closed, 1006) before the close frame.
	cut := r.sc.Flood - outcomes["open"]
	if cut != r.sc.Flood {
		r.problem("%d of %d flooding sockets not cut off", r.sc.Flood-cut, r.sc.Flood)
	}
	r.note("%d/%d flooding sockets cut off (%d with close 1008, the others reset while writing), after %.0f frames each on average",
		cut, r.sc.Flood, outcomes["close 1008"], float64(frames.Load())/float64(max(r.sc.Flood, 1)))
	r.judge(r.callers, mark)
	r.healthy(x)
}

// overlongIDs: identifiers too long or malformed for a NATS subject or key,
// from a browser and from a NATS peer. Each must get an error (requests) or
// be ignored (notifications), and no component may be put off the bus.
func overlongIDs(r *run) {
	if !r.start(Options{Ctrls: 2, Nodes: 1}) || !r.calls(func(i int) (int, string) { return i % 2, DestEcho }) {
		return
	}
	mark := marks(r.callers)
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	x, node := r.sys.Ctrls[0], r.sys.Nodes[0]
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	refused, total := 0, 0
	expect := func(what string, m *verto.Message, err error) {
		total++
		switch {
		case err != nil:
			r.problem("%s: %v", what, err)
		case m.Error == nil && strings.Contains(string(m.Result), `"not_found"`):
			refused++ // a lookup that found no such user is an answer too
		case m.Error == nil:
			r.problem("%s: accepted: %s", what, m.Result)
		case m.Error.Code == 0:
			r.problem("%s: error without a code: %s", what, m.Error.Message)
		default:
			refused++
		}
	}
	// On the WebSocket.
	for _, sessid := range []string{long(".", 1400), long("x", 5000), "a\nb"} {
		s, err := dialRaw(ctx, x.WS, true)
		if err != nil {
			r.problem("dial: %v", err)
			continue
		}
		err = s.login(ctx, r.sys.User(), sessid)
		total++
		if err == nil {
			r.problem("login with a %d-byte sessid accepted", len(sessid))
		} else {
			refused++
		}
		s.close()
	}
	s, err := dialRaw(ctx, x.WS, true)
	if err != nil {
		r.problem("dial: %v", err)
		return
	}
	defer s.close()
	err = s.login(ctx, long("u", 50<<10)+"@"+Domain, ctrl.NewUUID())
	total++
	if err == nil {
		r.problem("login of a 50 KB user accepted")
	} else {
		refused++
	}
	sessid := ctrl.NewUUID()
	if err := s.login(ctx, r.sys.User(), sessid); err != nil {
		r.problem("login: %v", err)
		return
	}
	invite := func(callID, node string) map[string]any {
		return map[string]any{"sessid": sessid, "sdp": "v=0\r\n", "dialogParams": map[string]any{
			"callID": callID, "destination_number": DestEcho, "node_uuid": node}}
	}
	for _, c := range []struct {
		what   string
		method string
		params any
	}{
		{"invite with a 5,000-byte callID", verto.MethodInvite, invite(long("c", 5000), "")},
		{"invite with a callID with a newline", verto.MethodInvite, invite("a\nb", "")},
		{"invite naming node a.b.>", verto.MethodInvite, invite(ctrl.NewUUID(), "a.b.>")},
		{"invite naming a 5,000-byte node", verto.MethodInvite, invite(ctrl.NewUUID(), long("n", 5000))},
		{"bye naming a 5,000-byte node", verto.MethodBye, map[string]any{"sessid": sessid, "dialogParams": map[string]any{"callID": ctrl.NewUUID(), "node_uuid": long("n", 5000)}}},
		{"subscribe to a 5,000-byte channel", verto.MethodSubscribe, map[string]any{"sessid": sessid, "eventChannel": []string{long("e", 5000)}}},
		{"a chat verto.info that fails (no body)", verto.MethodInfo, map[string]any{"sessid": sessid, "msg": map[string]any{"to": "u1@" + Domain}}},
	} {
		m, err := s.request(ctx, c.method, c.params)
		expect(c.what, m, err)
	}
	// On NATS, as a peer on the bus.
	subj := verto.DefaultSubjects()
	ring := func(callID, login, node string) *verto.Message {
		m, _ := verto.NewRequest(verto.StringID("hostile"), verto.MethodInvite, verto.ServerCallParams{CallID: callID,
			SDP: "v=0\r\n", CallerIDNumber: "9999", DisplayDirection: "outbound", NodeUUID: node, Login: login})
		return m
	}
	for _, c := range []struct {
		what    string
		subject string
		m       *verto.Message
	}{
		{"NATS invite for a 50 KB login", subj.CtrlRTC(), ring(ctrl.NewUUID(), long("u", 50<<10)+"@"+Domain, node.UUID)},
		{"NATS invite for a login in a 4,000-byte domain", subj.CtrlRTC(), ring(ctrl.NewUUID(), "u0@"+long("d.", 2000), node.UUID)},
		{"NATS invite with a 5,000-byte callID", subj.CtrlRTC(), ring(long("c", 5000), "u0@"+Domain, node.UUID)},
		{"NATS invite from node a.b", subj.Ctrl(x.UUID), ring(ctrl.NewUUID(), "u0@"+Domain, "a.b")},
		{"NATS invite from a 5,000-byte node", subj.Ctrl(x.UUID), ring(ctrl.NewUUID(), "u0@"+Domain, long("n", 5000))},
		{"node: invite for a 5,000-byte ctrl_uuid", subj.Node(node.UUID), mustRequest(verto.MethodInvite, map[string]any{
			"sessid": long("s", 5000), "ctrl_uuid": long("c", 5000), "sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": ctrl.NewUUID()}})},
		{"node: xrtc.login for a 5,000-byte sessid and ctrl_uuid", subj.Node(node.UUID), mustRequest(verto.MethodXrtcLogin, map[string]any{
			"sessid": long("s", 5000), "ctrl_uuid": long("c", 5000)})},
		{"node: xrtc.calls for a 5,000-byte ctrl_uuid", subj.Node(node.UUID), mustRequest(verto.MethodXrtcCalls, map[string]any{"ctrl_uuid": long("c", 5000)})},
		{"node: lookupUser of a 50 KB id", subj.AnyNode(), mustRequest(verto.MethodXrtcLookupUser, map[string]any{
			"ctrl_uuid": x.UUID, "id": long("u", 50<<10), "domain": Domain})},
	} {
		m, err := r.sys.Request(ctx, c.subject, c.m)
		expect(c.what, m, err)
	}
	// Notifications: nothing to answer, nothing to break.
	notes := []struct {
		subject string
		m       *verto.Message
	}{
		{subj.Status(), mustNotify(verto.MethodNodeRegister, verto.Node{UUID: long("n", 5000)})},
		{subj.Status(), mustNotify(verto.MethodNodeUpdate, verto.Node{UUID: "a.b.c"})},
		{subj.Ctrl(x.UUID), mustNotify(verto.MethodXrtcPunt, map[string]any{"sessid": long("s", 5000)})},
		{subj.Ctrl(x.UUID), mustNotify(verto.MethodXrtcAnswered, map[string]any{"callID": long("c", 5000), "sessid": long("s", 5000), "ctrl_uuid": long("x", 5000)})},
		{subj.Ctrl(x.UUID), mustNotify(verto.MethodBye, map[string]any{"callID": long("c", 5000), "sessid": long("s", 5000), "node_uuid": long("n", 5000)})},
		{subj.Node(node.UUID), mustNotify(verto.MethodXrtcDetach, map[string]any{"sessid": long("s", 5000), "ctrl_uuid": long("c", 5000)})},
	}
	for _, n := range notes {
		if err := r.sys.Publish(n.subject, n.m); err != nil {
			r.problem("publish %s: %v", n.m.Method, err)
		}
	}
	// The XCtrl probes every node each second: one probe round after the
	// bogus statuses (a bounded wait: nothing is expected to happen).
	if !pause(ctx, 1500*time.Millisecond) {
		return
	}
	r.note("%d/%d hostile requests refused with an error code (%d more notifications ignored)", refused, total, len(notes))
	r.recover(time.Now(), []int{0, 1}, DestEcho)
	r.judge(r.callers, mark)
	r.healthy(r.sys.Ctrls...)
	r.onTheBus()
}

func mustRequest(method string, params any) *verto.Message {
	m, err := verto.NewRequest(verto.StringID("hostile"), method, params)
	if err != nil {
		panic(err)
	}
	return m
}

func mustNotify(method string, params any) *verto.Message {
	m, err := verto.NewNotification(method, params)
	if err != nil {
		panic(err)
	}
	return m
}

// clusterMemberKill: a 3-server JetStream cluster with the registry on 3
// replicas; each XCtrl is given one member (the others it learns). The
// member of XCtrl 1, which also leads the buckets' replicas, is killed while
// calls go on and users log in; it is restarted later and must rejoin.
func clusterMemberKill(r *run) {
	o := Options{NATS: 3, Ctrls: 2, Nodes: 2, Replicas: 3, CtrlNATS: func(i int) []int { return []int{i} }}
	dests := []string{DestEcho, DestTone}
	if !r.start(o) {
		return
	}
	// The worst case: the member also leads the registry's and the call
	// book's replicas (a stream leader that dies takes seconds to replace).
	for _, stream := range []string{"KV_" + registryBucket, "KV_" + callBookBucket} {
		lctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
		err := r.sys.LeadOn(lctx, stream, 0)
		cancel()
		if err != nil {
			// A loaded machine's raft may not move the leader in time:
			// the member still dies, only perhaps not as the leader.
			r.note("%s leader not moved to the victim (%v): killed as a follower", stream, err)
		}
	}
	if !r.calls(func(i int) (int, string) { return (i / 2) % 2, dests[i%2] }) || !r.idleSockets() {
		return
	}
	mark := marks(r.callers)
	victim := r.sys.NATS[0]
	var (
		t0         time.Time
		failed     atomic.Int64
		mu         sync.Mutex
		logins     []*Idle
		loginTimes []time.Duration
		killed     = make(chan struct{})
		started    atomic.Int64
	)
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		// Kill once a quarter of the logins are under way.
		for started.Load() < int64(r.sc.Logins/4) {
			if !pause(r.ctx, 5*time.Millisecond) { // polling a counter of this process
				break
			}
		}
		t0 = time.Now()
		victim.Kill()
		close(killed)
		r.recover(t0, []int{0, 1}, DestEcho)
	}()
	_ = parallel(r.ctx, r.sc.Logins, 4, func(ctx context.Context, i int) error {
		started.Add(1)
		x := r.sys.Ctrls[i%2]
		login := r.sys.User()
		lctx, cancel := context.WithTimeout(ctx, r.sc.Attempt)
		defer cancel()
		t := time.Now()
		cl, err := r.sys.dial(lctx, x.WS, login, "")
		took := time.Since(t)
		mu.Lock()
		loginTimes = append(loginTimes, took)
		mu.Unlock()
		if err != nil {
			failed.Add(1)
			r.log.Warn("login failed", "login", login, "err", err)
			return nil
		}
		mu.Lock()
		logins = append(logins, newIdle(cl, login, x.UUID))
		mu.Unlock()
		return nil
	})
	<-killed
	r.idle = append(r.idle, logins...)
	if n := failed.Load(); n > 0 {
		r.problem("%d of %d logins failed while the member died", n, r.sc.Logins)
	}
	r.note("logins during the member's death: %d/%d, each %s (login and verto.clientReady)", int64(r.sc.Logins)-failed.Load(), r.sc.Logins, spread(loginTimes))
	<-recovered
	r.survivors(t0, r.sys.Nodes[1], mark)
	// The member comes back and rejoins.
	t1 := time.Now()
	ctx, cancel := context.WithTimeout(r.ctx, r.sc.Settle)
	defer cancel()
	if err := victim.Restart(ctx); err != nil {
		r.problem("member restart: %v", err)
		return
	}
	if err := r.sys.WaitJetStream(ctx, 0); err != nil {
		r.problem("member rejoin: %v", err)
		return
	}
	r.note("the member rejoined (JetStream answers through it) %.2f s after its restart", time.Since(t1).Seconds())
	if len(r.idle) > 0 {
		cctx, cancel := context.WithTimeout(r.ctx, r.sc.Attempt)
		defer cancel()
		if err := r.sys.CallUser(cctx, r.sys.Nodes[0], r.idle[len(r.idle)-1]); err != nil {
			r.problem("after the rejoin: %v", err)
		}
	}
	r.onTheBus()
}
