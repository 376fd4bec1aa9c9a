package xrtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/module/internal/goroutines"
	"xccrtc/verto"
)

// Options configure an Endpoint.
type Options struct {
	// Config is the configuration in force at start; Reload replaces it.
	Config Config
	// Host is the switch.
	Host Host
	// Bus is the NATS connection. nil: the endpoint dials
	// Config.Settings.NATSURLs itself (reconnecting forever) and closes the
	// connection at Stop.
	Bus Bus
	// NodeUUID overrides the node-uuid setting and the host's core UUID.
	NodeUUID string
	// Clock drives every timer; nil is the system clock.
	Clock Clock
	// Log receives the endpoint's logs; nil is slog.Default().
	Log *slog.Logger
	// Limits bound the size and nesting of a message from NATS.
	Limits verto.Limits
	// InviteTimeout bounds the wait for XCtrl's answer to a verto.invite
	// for a WebRTC user (RINGING or USER_NOT_REGISTERED); 0 is 5 s.
	InviteTimeout time.Duration
	// OfferTimeout bounds the host's Offer (ICE gathering); 0 is 10 s.
	OfferTimeout time.Duration
	// HeartbeatInterval is the period of Event.NodeUpdate; 0 is 20 s.
	HeartbeatInterval time.Duration
	// InboundProfile is the profile of calls clients place; "" is "default"
	// (or the only profile when there is one).
	InboundProfile string
	// Reload reads the configuration again for `xrtc reload`. nil: reload
	// is not available. A returned error (e.g. conf.Problems) is shown to
	// the operator and the old configuration stays.
	Reload func() (Config, error)
	// Version is reported in node status messages when the host gives none.
	Version string
	// ReconnectWait is the pause between NATS reconnect attempts when the
	// endpoint dials NATS itself; 0 is 1 s.
	ReconnectWait time.Duration
	// OnPanic, if set, is called after a panic was recovered and logged
	// (tests use it to fail).
	OnPanic func(v any)
	// CtrlProbe is how often each XCtrl holding a call or socket here is
	// pinged; 0 is 2 s, negative turns the watch off.
	CtrlProbe time.Duration
	// CtrlDead is how long an XCtrl must have no responders before its
	// sockets count as gone; 0 is 6 s.
	CtrlDead time.Duration
}

// Endpoint is the xrtc endpoint: Verto over NATS on top of a Host. Create
// it with New, Start it, Stop it. Its exported methods are safe for
// concurrent use.
type Endpoint struct {
	opts     Options
	host     Host
	bus      Bus
	ownBus   bool
	clock    Clock
	quiet    quietLog // client-caused warnings, bounded
	log      *slog.Logger
	nodeUUID string
	subjects verto.Subjects
	cfg      atomic.Pointer[Config]
	debug    atomic.Int32
	track    *goroutines.Group
	started  time.Time

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	calls   map[string]*Call
	running bool
	stopped bool
	unsubs  []func()
	beat    Timer
	control serial // messages about no socket and no call
	chatQ   serial // chat to users (chat.go), in the order sent

	ev    events
	ctrlw ctrlWatch

	seq        atomic.Uint64
	apiRunning atomic.Int64 // jsapi / fsapi commands running (api_exec.go)
	stats      struct {
		received, handled, badInput, replies, publishFailed, panics atomic.Int64
		foreign                                                     atomic.Int64 // requests on another client's call
		queueFull                                                   atomic.Int64 // requests refused by runRequest
		callsTotal, mediaTimeouts, ctrlsGone, badTransitions        atomic.Int64
	}
}

// Errors of the endpoint's lifecycle.
var (
	// ErrNoHost: Options.Host is nil.
	ErrNoHost = errors.New("xrtc: no host")
	// ErrStopped: the endpoint was stopped.
	ErrStopped = errors.New("xrtc: endpoint stopped")
	// ErrRunning: Start was called twice.
	ErrRunning = errors.New("xrtc: endpoint already started")
)

// New checks the options and builds an endpoint. It does not touch the
// network: Start does.
func New(o Options) (*Endpoint, error) {
	if o.Host == nil {
		return nil, ErrNoHost
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.InviteTimeout <= 0 {
		o.InviteTimeout = 5 * time.Second
	}
	if o.OfferTimeout <= 0 {
		o.OfferTimeout = 10 * time.Second
	}
	if o.CtrlProbe == 0 {
		o.CtrlProbe = 2 * time.Second
	}
	if o.CtrlDead <= 0 {
		o.CtrlDead = 6 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = verto.NodeUpdateIntervalSec * time.Second
	}
	node := o.NodeUUID
	if node == "" {
		node = o.Config.Settings.NodeUUID
	}
	if node == "" {
		node = o.Host.Status().CoreUUID
	}
	if node == "" {
		node = newUUID()
	}
	e := &Endpoint{
		opts:     o,
		host:     o.Host,
		bus:      o.Bus,
		clock:    o.Clock,
		nodeUUID: node,
		subjects: o.Config.subjects(),
		track:    goroutines.New(),
		calls:    make(map[string]*Call),
	}
	e.log = o.Log.With("node_uuid", node)
	cfg := o.Config
	e.cfg.Store(&cfg)
	e.debug.Store(int32(cfg.Settings.Debug))
	e.ev.init()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// NodeUUID is the node's identity on NATS.
func (e *Endpoint) NodeUUID() string { return e.nodeUUID }

// NodeSubject is the subject of this node (plain subscription).
func (e *Endpoint) NodeSubject() string { return e.config().nodeBase() + "." + e.nodeUUID }

// AnyNodeSubject is the subject all nodes queue-subscribe.
func (e *Endpoint) AnyNodeSubject() string { return e.config().nodeBase() }

func (e *Endpoint) config() *Config { return e.cfg.Load() }

// Start connects to NATS (unless a Bus was given), subscribes the node
// subjects, and announces the node with Event.NodeRegister followed by an
// Event.NodeUpdate every 20 s.
func (e *Endpoint) Start(ctx context.Context) (err error) {
	e.mu.Lock()
	if e.running || e.stopped {
		e.mu.Unlock()
		if e.stopped {
			return ErrStopped
		}
		return ErrRunning
	}
	e.running = true
	e.mu.Unlock()
	defer func() {
		if err != nil {
			// Not started: Stop must not announce (or publish on) anything.
			e.mu.Lock()
			e.running = false
			e.mu.Unlock()
		}
	}()
	e.started = e.clock.Now()
	cfg := e.config()
	if e.bus == nil {
		if err := cfg.Settings.NATSAuth.Validate(); err != nil {
			return fmt.Errorf("xrtc: NATS credentials: %w", err)
		}
		auth, err := cfg.Settings.NATSAuth.Options()
		if err != nil {
			return fmt.Errorf("xrtc: NATS credentials: %w", err)
		}
		b, err := DialNATS(cfg.Settings.NATSURLs, NATSOptions{
			Auth: auth,
			Name: "xrtc " + e.nodeUUID, ReconnectWait: e.opts.ReconnectWait, Log: e.log,
			// Back on the bus: XCtrl may have forgotten the node meanwhile.
			Reconnected: func() {
				e.spawn("status after reconnect", func() { e.publishStatus(verto.MethodNodeUpdate, false) })
			},
		})
		if err != nil {
			return err
		}
		e.bus, e.ownBus = b, true
	}
	for _, s := range []struct{ subject, queue string }{
		{e.NodeSubject(), ""},
		{cfg.nodeBase(), cfg.nodeQueue()},
	} {
		un, err := e.bus.Subscribe(s.subject, s.queue, e.HandleMessage)
		if err != nil {
			e.unsubscribe()
			return err
		}
		e.mu.Lock()
		e.unsubs = append(e.unsubs, un)
		e.mu.Unlock()
	}
	// An XCtrl that starts after this node announces itself on the status
	// subject (XNode.CtrlStartUp): answer with a status at once instead of
	// leaving it without nodes until the next heartbeat.
	un, err := e.bus.Subscribe(cfg.statusSubject(), "", e.onStatusSubject)
	if err != nil {
		e.unsubscribe()
		return err
	}
	e.mu.Lock()
	e.unsubs = append(e.unsubs, un)
	e.mu.Unlock()
	e.log.Info("xrtc: endpoint started", "subject", e.NodeSubject(), "queue_subject", cfg.nodeBase(), "queue", cfg.nodeQueue(), "nats", e.bus.Status())
	e.publishStatus(verto.MethodNodeRegister, false)
	e.scheduleBeat()
	e.scheduleCtrlProbe()
	return nil
}

func (e *Endpoint) unsubscribe() {
	e.mu.Lock()
	unsubs := e.unsubs
	e.unsubs = nil
	e.mu.Unlock()
	for _, un := range unsubs {
		un()
	}
}

// Stop unsubscribes, hangs up the calls that are left (SYSTEM_SHUTDOWN,
// clients are told), waits for the endpoint's goroutines, sends
// Event.NodeUnregister and closes the NATS connection it opened. ctx bounds
// the wait.
func (e *Endpoint) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	wasRunning := e.running
	if e.beat != nil {
		e.beat.Stop()
	}

	calls := make([]*Call, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	e.stopCtrlProbe()
	e.unsubscribe()
	for _, c := range calls {
		c := c
		e.runCall(c, "shutdown", func() { e.endCall(c, verto.CauseSystemShutdown, true, true) })
	}
	e.cancel()
	done := make(chan struct{})
	go func() {
		e.track.Wait()
		e.track.Close()
		e.track.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("xrtc: stop: %w (%d goroutines still running)", ctx.Err(), e.track.Count())
	}
	if wasRunning {
		e.publishStatus(verto.MethodNodeUnregister, true)
	}
	if e.ownBus && e.bus != nil {
		e.bus.Close()
	}
	e.log.Info("xrtc: endpoint stopped")
	return err
}

// HandleMessage is the NATS message handler of the node subjects: it
// decodes one message and queues its handling. It never blocks for long and
// never panics. Undecodable input and unknown calls are answered with a
// JSON-RPC error when a reply subject is given.
func (e *Endpoint) HandleMessage(subject, reply string, data []byte) {
	e.safely("message "+subject, func() { e.handle(subject, reply, data) })
}

func (e *Endpoint) handle(subject, reply string, data []byte) {
	e.stats.received.Add(1)
	if e.debug.Load() > 0 {
		e.log.Info("xrtc: recv", "subject", subject, "reply", reply, "json", string(truncate(data, 4096)))
	}
	m, err := verto.DecodeMessage(data, e.opts.Limits)
	if err != nil {
		e.stats.badInput.Add(1)
		var de *verto.DecodeError
		rpc := &verto.Error{Code: verto.CodeInvalidRequest, Message: verto.MsgInvalidRequest}
		var id verto.ID
		if errors.As(err, &de) {
			rpc, id = de.RPC(), de.ID
		}
		e.warnQuiet("xrtc: bad message from NATS", "subject", subject, "bytes", len(data), "err", err)
		if reply != "" {
			e.sendReply(reply, verto.NewError(id, rpc))
		}
		return
	}
	switch m.Kind() {
	case verto.KindResult, verto.KindError:
		// A client's ack of a node->client message: ignored, as mod_verto
		// ignores results.
		return
	}
	if !ownMethod(m.Method) {
		// mod_xcc's methods (XNode.*, ...) may share the node subject: not
		// ours, and not answered, so that mod_xcc's answer is the only one.
		return
	}
	e.dispatch(&request{msg: m, reply: reply, subject: subject})
}

// ownMethod reports whether the endpoint answers method: Verto's and xrtc's
// namespaces, and the bare Verto methods (login, echo, ...).
func ownMethod(method string) bool {
	for i := 0; i < len(method); i++ {
		if method[i] == '.' {
			ns := method[:i]
			return ns == "verto" || ns == "xrtc"
		}
	}
	return true
}

// request is one message being handled.
type request struct {
	msg      *verto.Message
	reply    string
	subject  string
	ctrlUUID string // for async replies
}

// respond sends a result (or error when rpcErr != nil) for r: to its NATS
// reply subject, else, for a request with an id, to the ctrl it came from
// (async mode).
func (e *Endpoint) respond(r *request, result any, rpcErr *verto.Error) {
	to := r.reply
	if to == "" {
		if r.msg.ID.IsZero() || r.ctrlUUID == "" {
			return
		}
		to = e.subjects.Ctrl(r.ctrlUUID)
	}
	var m *verto.Message
	if rpcErr != nil {
		m = verto.NewError(r.msg.ID, rpcErr)
	} else {
		var err error
		if m, err = verto.NewResult(r.msg.ID, result); err != nil {
			m = verto.NewError(r.msg.ID, &verto.Error{Code: verto.CodeSessionError, Message: err.Error()})
		}
	}
	e.sendReply(to, m)
}

func (e *Endpoint) sendReply(to string, m *verto.Message) {
	b, err := m.Marshal()
	if err != nil {
		e.log.Error("xrtc: marshal reply", "err", err)
		return
	}
	e.stats.replies.Add(1)
	if e.debug.Load() > 0 {
		e.log.Info("xrtc: send", "subject", to, "json", string(truncate(b, 4096)))
	}
	if err := e.bus.Publish(to, b); err != nil {
		e.stats.publishFailed.Add(1)
		e.log.Warn("xrtc: reply not sent", "subject", to, "err", err)
	}
}

// publish sends a node->client (or node->ctrl) request or notification. The
// error tells the caller the message is lost.
func (e *Endpoint) publish(subject, method string, params any, withID bool) error {
	var id verto.ID
	if withID {
		id = e.nextID()
	}
	m, err := verto.NewRequest(id, method, params)
	if err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if e.debug.Load() > 0 {
		e.log.Info("xrtc: send", "subject", subject, "json", string(truncate(b, 4096)))
	}
	if err := e.bus.Publish(subject, b); err != nil {
		e.stats.publishFailed.Add(1)
		return err
	}
	return nil
}

func (e *Endpoint) nextID() verto.ID {
	return verto.StringID(e.nodeUUID[:min(8, len(e.nodeUUID))] + "-" + strconv.FormatUint(e.seq.Add(1), 10))
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}

// onStatusSubject takes XNode.CtrlStartUp from the status subject and
// ignores the rest (other nodes' heartbeats).
func (e *Endpoint) onStatusSubject(subject, _ string, data []byte) {
	e.safely("status subject "+subject, func() { e.onStatus(data) })
}

func (e *Endpoint) onStatus(data []byte) {
	if !bytes.Contains(data, []byte(verto.MethodCtrlStartUp)) {
		return
	}
	m, err := verto.DecodeMessage(data, verto.Limits{})
	if err != nil || m.Method != verto.MethodCtrlStartUp {
		return
	}
	e.spawn("status for a new XCtrl", func() { e.publishStatus(verto.MethodNodeUpdate, false) })
}
