package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"xccrtc/verto"
)

// Direction of a call.
type Direction string

// Call directions.
const (
	DirectionOutbound Direction = "outbound" // this client called
	DirectionInbound  Direction = "inbound"  // the server called this client
)

// State is a call's state, named as verto.js names its dialog states.
type State string

// Call states.
const (
	StateNew        State = "new"
	StateRequesting State = "requesting" // invite sent
	StateTrying     State = "trying"     // invite accepted (CALL CREATED / verto.trying)
	StateRinging    State = "ringing"    // incoming, not answered yet
	StateAnswering  State = "answering"  // Answer under way
	StateEarly      State = "early"      // verto.media: early media
	StateActive     State = "active"     // answered
	StateHeld       State = "held"       // verto.modify hold accepted
	StateRecovering State = "recovering" // reloading, waiting for verto.attach
	StateHangup     State = "hangup"     // ended
)

// CallOptions configure a call (Client.Call) or an answer (Call.Answer).
type CallOptions struct {
	// Audio is what to send; the zero value is a 1 kHz tone.
	Audio Audio
	// Video is what to do with video; the zero value is audio only.
	Video Video
	// Codec is the preferred codec, CodecPCMU (default) or CodecOpus. Both
	// are offered; the far end chooses. Opus carries silence only (no
	// encoder without cgo), so tones, WAVs and round-trip probes need PCMU.
	Codec string
	// Duration, when positive, hangs the call up that long after answer.
	Duration time.Duration
	// DTMF, when set, is sent with verto.info DTMFDelay after answer.
	DTMF      string
	DTMFDelay time.Duration // default 1 s
	// NoProbe turns off the round-trip probes in the sent audio.
	NoProbe bool
	// ProbeInterval is the time between probes (default 1 s).
	ProbeInterval time.Duration

	// Caller id for this call (default: Options). Remote* are what
	// verto.js sends as the callee's expected name and number.
	CallerIDName, CallerIDNumber             string
	RemoteCallerIDName, RemoteCallerIDNumber string
	// UserVariables go into dialogParams.userVariables (channel variables
	// verto_dvar_*).
	UserVariables map[string]any
}

func (o CallOptions) withDefaults() CallOptions {
	if o.DTMFDelay <= 0 {
		o.DTMFDelay = time.Second
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = time.Second
	}
	return o
}

// Call is one call: placed with Client.Call, or offered on Client.Incoming.
type Call struct {
	c         *Client
	id        string
	dir       Direction
	dest      string
	created   time.Time
	recovered bool

	mu           sync.Mutex
	opts         CallOptions
	remoteOffer  string
	state        State
	nodeUUID     string
	remoteName   string
	remoteNumber string
	media        *media
	codec        string
	started      time.Time
	answeredAt   time.Time
	endedAt      time.Time
	setup        time.Duration
	firstRTP     time.Duration
	rx           rxStats
	sentPackets  uint64
	sentBytes    uint64
	video        videoStats
	probesSent   map[int]time.Time
	marksSent    map[int]time.Time // marked opus packets
	rtts         []float64
	netRTT       time.Duration
	dtmf         strings.Builder
	holds        int
	held         bool
	reloads      int
	reconnects   int
	attaches     int
	needAttach   bool
	attachReason string // reload, reconnect
	mediaErr     error
	ended        bool
	endedBy      string
	cause        string
	causeCode    int
	err          error
	timers       []*time.Timer
	conf         *Conference
	changed      notifier
	done         chan struct{}
}

// notifier wakes waiters when something changed. Use it under the owner's
// lock.
type notifier struct{ ch chan struct{} }

func (n *notifier) wait() <-chan struct{} {
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

func (c *Client) newCall(dir Direction, id, dest string, o CallOptions) *Call {
	now := time.Now()
	return &Call{
		c: c, id: id, dir: dir, dest: dest, created: now, started: now,
		opts:       o.withDefaults(),
		state:      StateNew,
		probesSent: make(map[int]time.Time),
		marksSent:  make(map[int]time.Time),
		done:       make(chan struct{}),
	}
}

// Call places a call to dest: it makes a complete offer (ICE gathered, no
// trickle), sends verto.invite and returns once the server accepted it
// (CALL CREATED). Wait for the answer with WaitAnswered. An invite the
// server refuses gives a *HangupError with its cause.
func (c *Client) Call(ctx context.Context, dest string, o CallOptions) (*Call, error) {
	call := c.newCall(DirectionOutbound, newUUID(), dest, o)
	if !c.addCall(call) {
		return nil, ErrClosed
	}
	m, err := call.newMedia()
	if err != nil {
		call.end(EndedByError, "", 0, err)
		return nil, err
	}
	call.mu.Lock()
	call.media = m
	call.mu.Unlock()
	sdp, err := m.offer(ctx)
	if err != nil {
		call.end(EndedByError, "", 0, err)
		<-call.done
		return nil, err
	}
	call.setState(StateRequesting, StateNew)
	r, err := c.request(ctx, verto.MethodInvite, call.params(sdp, nil), 3*c.opts.RequestTimeout)
	if err != nil {
		herr := asHangupError(err, EndedByError)
		if herr.Cause == "" && !isVertoError(err) {
			// the server may have the call: tell it, as a browser would
			call.byeInBackground(verto.CauseOriginatorCancel)
		}
		call.end(EndedByError, herr.Cause, herr.Code, err)
		<-call.done
		return nil, herr
	}
	var ir verto.InviteResult
	_ = r.DecodeResult(&ir)
	call.setNode(ir.NodeUUID)
	call.setState(StateTrying, StateRequesting)
	return call, nil
}

// ID returns the callID.
func (call *Call) ID() string { return call.id }

// Direction returns who placed the call.
func (call *Call) Direction() Direction { return call.dir }

// Destination returns the number called (outbound) or the callee number the
// server sent (inbound).
func (call *Call) Destination() string { return call.dest }

// Recovered reports whether the call came to this client by verto.attach
// without being known to it (another process with the same sessid).
func (call *Call) Recovered() bool { return call.recovered }

// Remote returns the far end's name and number as the server told them.
func (call *Call) Remote() (name, number string) {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.remoteName, call.remoteNumber
}

// NodeUUID returns the node that carries the call, once known.
func (call *Call) NodeUUID() string {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.nodeUUID
}

// State returns the call's state.
func (call *Call) State() State {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.state
}

// Done is closed when the call has ended and its media is closed.
func (call *Call) Done() <-chan struct{} { return call.done }

func (call *Call) isAnswered() bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	return !call.answeredAt.IsZero()
}

// waitUntil waits until cond holds (checked under the lock, at every
// change), the call ends or ctx is done.
func (call *Call) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		call.mu.Lock()
		ok := cond()
		var err error
		if !ok && call.ended {
			err = call.hangupErrorLocked()
		}
		ch := call.changed.wait()
		call.mu.Unlock()
		if ok || err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitAnswered waits until the call is answered. A call that ends first
// gives a *HangupError with the cause.
func (call *Call) WaitAnswered(ctx context.Context) error {
	return call.waitUntil(ctx, func() bool { return !call.answeredAt.IsZero() })
}

// WaitReceived waits until n RTP packets have been received.
func (call *Call) WaitReceived(ctx context.Context, n uint64) error {
	return call.waitUntil(ctx, func() bool { return call.rx.packets >= n })
}

// WaitVideo waits until a video key frame and n video frames have been
// received.
func (call *Call) WaitVideo(ctx context.Context, n uint64) error {
	return call.waitUntil(ctx, func() bool { return call.video.keyFrames > 0 && call.video.frames >= n })
}

// WaitRTT waits until n audio round trips have been measured.
func (call *Call) WaitRTT(ctx context.Context, n int) error {
	return call.waitUntil(ctx, func() bool { return len(call.rtts) >= n })
}

// WaitConference waits until the server says the call joined a conference
// (verto.event pvtData conference-liveArray-join).
func (call *Call) WaitConference(ctx context.Context) (*Conference, error) {
	var cf *Conference
	err := call.waitUntil(ctx, func() bool { cf = call.conf; return cf != nil })
	return cf, err
}

// Wait waits until the call ends.
func (call *Call) Wait(ctx context.Context) error {
	select {
	case <-call.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (call *Call) hangupErrorLocked() *HangupError {
	return &HangupError{Cause: call.cause, Code: call.causeCode, EndedBy: call.endedBy, Err: call.err}
}

// Answer answers an incoming call: a new peer connection answers the
// server's offer (ICE gathered), then verto.answer.
func (call *Call) Answer(ctx context.Context, o CallOptions) error {
	if call.dir != DirectionInbound {
		return ErrNotInbound
	}
	call.mu.Lock()
	if call.ended {
		err := call.hangupErrorLocked()
		call.mu.Unlock()
		return err
	}
	if call.state != StateRinging {
		call.mu.Unlock()
		return nil // answered or being answered
	}
	call.state = StateAnswering
	call.opts = o.withDefaults()
	call.started = time.Now()
	offer := call.remoteOffer
	call.mu.Unlock()

	m, err := call.newMedia()
	if err != nil {
		call.rejectAfterError(err)
		return err
	}
	if !call.setMedia(m) {
		m.close()
		return call.Err()
	}
	sdp, err := m.answer(ctx, offer)
	if err != nil {
		call.rejectAfterError(err)
		return err
	}
	if _, err := call.c.request(ctx, verto.MethodAnswer, call.params(sdp, nil), 0); err != nil {
		herr := asHangupError(err, EndedByError)
		call.end(EndedByError, herr.Cause, herr.Code, err)
		return herr
	}
	call.markAnswered()
	return nil
}

// rejectAfterError refuses a call this client could not answer.
func (call *Call) rejectAfterError(err error) {
	call.byeInBackground(verto.CauseIncompatibleDestination)
	call.end(EndedByError, verto.CauseIncompatibleDestination.String(), int(verto.CauseIncompatibleDestination), err)
}

// setMedia installs m unless the call ended.
func (call *Call) setMedia(m *media) bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.ended {
		return false
	}
	call.media = m
	call.rx.fold() // a new peer connection starts new streams
	call.video.rx.fold()
	return true
}

// Err returns why the call ended (a *HangupError), or nil while it is up.
func (call *Call) Err() error {
	call.mu.Lock()
	defer call.mu.Unlock()
	if !call.ended {
		return nil
	}
	return call.hangupErrorLocked()
}

// Reject refuses an incoming call with verto.bye and cause (CALL_REJECTED
// when 0).
func (call *Call) Reject(ctx context.Context, cause verto.Cause) error {
	if call.dir != DirectionInbound {
		return ErrNotInbound
	}
	if cause == verto.CauseNone {
		cause = verto.CauseCallRejected
	}
	return call.hangup(ctx, cause)
}

// Hangup ends the call with verto.bye (NORMAL_CLEARING) and waits for the
// server's reply; the report takes the cause the server answers. The call
// ends even when the request fails.
func (call *Call) Hangup(ctx context.Context) error {
	return call.hangup(ctx, verto.CauseNormalClearing)
}

func (call *Call) hangup(ctx context.Context, cause verto.Cause) error {
	call.mu.Lock()
	if call.ended {
		call.mu.Unlock()
		return nil
	}
	call.mu.Unlock()
	r, err := call.c.request(ctx, verto.MethodBye, call.params("", func(p *callParams) {
		p.Cause, p.CauseCode = cause.String(), verto.Flex(fmt.Sprint(int(cause)))
	}), 0)
	name, code := cause.String(), int(cause)
	if err == nil {
		var br verto.ByeResult
		if r.DecodeResult(&br) == nil && br.Cause != "" {
			name, code = br.Cause, br.CauseCode
		}
	}
	call.end(EndedByLocal, name, code, err)
	<-call.done
	return err
}

// byeInBackground sends verto.bye without waiting (cleanup after errors).
func (call *Call) byeInBackground(cause verto.Cause) {
	params := call.params("", func(p *callParams) {
		p.Cause, p.CauseCode = cause.String(), verto.Flex(fmt.Sprint(int(cause)))
	})
	call.c.goBG(func() {
		ctx, cancel := context.WithTimeout(context.Background(), call.c.opts.RequestTimeout)
		defer cancel()
		_, _ = call.c.request(ctx, verto.MethodBye, params, 0)
	})
}

// SendDTMF sends digits with verto.info.
func (call *Call) SendDTMF(ctx context.Context, digits string) error {
	if err := call.Err(); err != nil {
		return err
	}
	_, err := call.c.request(ctx, verto.MethodInfo, call.params("", func(p *callParams) { p.DTMF = digits }), 0)
	if err != nil {
		return err
	}
	call.mu.Lock()
	call.dtmf.WriteString(digits)
	call.mu.Unlock()
	call.c.emit(EventDTMF, call.id, digits, nil)
	return nil
}

// Hold puts the call on hold (verto.modify hold). It returns the hold
// state the server reports.
func (call *Call) Hold(ctx context.Context) (string, error) {
	return call.modify(ctx, verto.ActionHold)
}

// Unhold takes the call off hold (verto.modify unhold).
func (call *Call) Unhold(ctx context.Context) (string, error) {
	return call.modify(ctx, verto.ActionUnhold)
}

// Transfer asks the server to transfer the bridged far end to dest.
func (call *Call) Transfer(ctx context.Context, dest string) error {
	if err := call.Err(); err != nil {
		return err
	}
	_, err := call.c.request(ctx, verto.MethodModify, call.params("", func(p *callParams) {
		p.Action, p.Destination = verto.ActionTransfer, dest
	}), 0)
	return err
}

func (call *Call) modify(ctx context.Context, action string) (string, error) {
	if err := call.Err(); err != nil {
		return "", err
	}
	r, err := call.c.request(ctx, verto.MethodModify, call.params("", func(p *callParams) { p.Action = action }), 0)
	if err != nil {
		return "", err
	}
	var mr verto.ModifyResult
	if err := r.DecodeResult(&mr); err != nil {
		return "", err
	}
	call.mu.Lock()
	held := mr.HoldState == verto.HoldStateHeld
	if held && !call.held {
		call.holds++
	}
	call.held = held
	if !call.ended && !call.answeredAt.IsZero() {
		if held {
			call.state = StateHeld
		} else {
			call.state = StateActive
		}
	}
	call.changed.notify()
	call.mu.Unlock()
	call.c.emit(EventHold, call.id, mr.HoldState, r.Result)
	return mr.HoldState, nil
}

// Held reports whether the server last said the call is held.
func (call *Call) Held() bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.held
}

// Conference returns the conference the call joined, or nil.
func (call *Call) Conference() *Conference {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.conf
}

// handleServer takes a server request about this call (already acked).
func (call *Call) handleServer(method string, p *verto.ServerCallParams, raw json.RawMessage) {
	call.setNode(p.NodeUUID)
	switch method {
	case verto.MethodTrying:
		call.setState(StateTrying, StateNew, StateRequesting)
		call.c.emit(EventTrying, call.id, "node "+p.NodeUUID, raw)
	case verto.MethodMedia:
		call.applyAnswer(p.SDP)
		call.setState(StateEarly, StateNew, StateRequesting, StateTrying)
		call.c.emit(EventEarly, call.id, "early media", raw)
	case verto.MethodAnswer:
		call.applyAnswer(p.SDP)
		call.markAnswered()
	case verto.MethodBye:
		call.end(EndedByRemote, p.Cause, p.CauseCode, nil)
	case verto.MethodDisplay:
		call.mu.Lock()
		call.remoteName, call.remoteNumber = p.DisplayName, p.DisplayNumber
		call.mu.Unlock()
		call.c.emit(EventDisplay, call.id, fmt.Sprintf("%s <%s>", p.DisplayName, p.DisplayNumber), raw)
	case verto.MethodInfo:
		call.c.emit(EventInfo, call.id, infoText(p, raw), raw)
	default:
		call.c.emit(EventVerto, call.id, method, raw)
	}
}

// applyAnswer sets the far end's answer SDP on the current media.
func (call *Call) applyAnswer(sdp string) {
	if sdp == "" {
		return
	}
	call.mu.Lock()
	m := call.media
	call.mu.Unlock()
	if m == nil {
		return
	}
	if err := m.setAnswer(sdp); err != nil {
		call.c.log.Warn("remote answer refused", "call_id", call.id, "err", err)
		call.mu.Lock()
		call.mediaErr = err
		call.mu.Unlock()
	}
}

func (call *Call) setNode(n string) {
	if n == "" {
		return
	}
	call.mu.Lock()
	call.nodeUUID = n
	call.mu.Unlock()
}

// setState moves to s if the call is in one of from (any state when from
// is empty) and has not ended.
func (call *Call) setState(s State, from ...State) {
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.ended {
		return
	}
	if len(from) > 0 {
		ok := false
		for _, f := range from {
			ok = ok || call.state == f
		}
		if !ok {
			return
		}
	}
	call.state = s
	call.changed.notify()
}

// markAnswered records the answer and starts the timers of CallOptions.
func (call *Call) markAnswered() {
	call.mu.Lock()
	if call.ended || !call.answeredAt.IsZero() {
		call.mu.Unlock()
		return
	}
	call.answeredAt = time.Now()
	call.setup = call.answeredAt.Sub(call.started)
	call.state = StateActive
	o := call.opts
	if o.Duration > 0 {
		call.timers = append(call.timers, time.AfterFunc(o.Duration, func() {
			ctx, cancel := context.WithTimeout(context.Background(), call.c.opts.RequestTimeout)
			defer cancel()
			_ = call.Hangup(ctx)
		}))
	}
	if o.DTMF != "" {
		call.timers = append(call.timers, time.AfterFunc(o.DTMFDelay, func() {
			ctx, cancel := context.WithTimeout(context.Background(), call.c.opts.RequestTimeout)
			defer cancel()
			if err := call.SendDTMF(ctx, o.DTMF); err != nil {
				call.c.log.Warn("dtmf not sent", "call_id", call.id, "err", err)
			}
		}))
	}
	call.changed.notify()
	setup := call.setup
	call.mu.Unlock()
	call.c.emit(EventAnswered, call.id, fmt.Sprintf("setup %.1f ms", ms(setup)), nil)
}

func (call *Call) mediaFailed() {
	call.mu.Lock()
	if call.mediaErr == nil {
		call.mediaErr = errors.New("ICE/DTLS failed")
	}
	call.mu.Unlock()
}

// end finishes the call once: records why, closes the media in the
// background and then closes Done.
func (call *Call) end(endedBy, cause string, code int, err error) {
	call.mu.Lock()
	if call.ended {
		call.mu.Unlock()
		return
	}
	call.ended = true
	call.endedAt = time.Now()
	call.endedBy = endedBy
	if cause == "" && code != 0 {
		cause = verto.Cause(code).String()
	}
	if code == 0 && cause != "" {
		if c, ok := verto.ParseCause(cause); ok {
			code = int(c)
		}
	}
	call.cause, call.causeCode, call.err = cause, code, err
	call.state = StateHangup
	m := call.media
	call.media = nil
	for _, t := range call.timers {
		t.Stop()
	}
	call.changed.notify()
	call.mu.Unlock()
	call.c.removeCall(call)
	go func() {
		if m != nil {
			m.close()
		}
		text := cause
		if err != nil {
			text += " " + err.Error()
		}
		call.c.emit(EventHangup, call.id, strings.TrimSpace(text+" by "+endedBy), nil)
		close(call.done)
	}()
}

// detach marks an answered call as waiting for the server's verto.attach
// after its socket went away, and reports false for calls that were not
// answered. A reload (closeMedia) drops the media as a page reload does;
// a reconnect keeps it going until the new offer comes, as verto.js does.
func (call *Call) detach(closeMedia bool, reason string) bool {
	call.mu.Lock()
	if call.ended || call.answeredAt.IsZero() {
		call.mu.Unlock()
		return false
	}
	var m *media
	if closeMedia {
		m = call.media
		call.media = nil
	}
	call.needAttach = true
	call.attachReason = reason
	call.state = StateRecovering
	call.changed.notify()
	call.mu.Unlock()
	if m != nil {
		m.close()
	}
	return true
}

func (call *Call) isAttached() bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	return !call.needAttach
}

func (call *Call) waitAttached(ctx context.Context) error {
	return call.waitUntil(ctx, func() bool { return !call.needAttach })
}

// reattach answers the server's verto.attach offer with a new peer
// connection, as verto.js does: after a reload or a reconnect, and when the
// server re-offers the media of a live call (FreeSWITCH's media
// renegotiation).
// raw is the verto.attach's params (EventAttached carries them).
func (call *Call) reattach(conn *wsConn, p *verto.ServerCallParams, raw json.RawMessage) {
	call.setNode(p.NodeUUID)
	call.mu.Lock()
	if call.ended {
		call.mu.Unlock()
		return
	}
	old := call.media
	call.media = nil
	call.mu.Unlock()
	if old != nil {
		old.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*call.c.opts.RequestTimeout)
	defer cancel()
	m, err := call.newMedia()
	if err != nil {
		call.end(EndedByError, "", 0, err)
		return
	}
	if !call.setMedia(m) {
		m.close()
		return
	}
	sdp, err := m.answer(ctx, p.SDP)
	if err != nil {
		call.byeInBackground(verto.CauseIncompatibleDestination)
		call.end(EndedByError, verto.CauseIncompatibleDestination.String(), int(verto.CauseIncompatibleDestination), fmt.Errorf("attach: %w", err))
		return
	}
	if _, err := call.c.requestOn(ctx, conn, verto.MethodAttach, call.params(sdp, nil)); err != nil {
		herr := asHangupError(err, EndedByError)
		call.end(EndedByError, herr.Cause, herr.Code, fmt.Errorf("attach: %w", err))
		return
	}
	call.mu.Lock()
	call.attaches++
	switch {
	case !call.needAttach:
	case call.attachReason == attachReload:
		call.reloads++
	case call.attachReason == attachReconnect:
		call.reconnects++
	}
	call.needAttach = false
	if call.answeredAt.IsZero() {
		call.answeredAt = time.Now()
	}
	if !call.ended {
		call.state = StateActive
	}
	call.changed.notify()
	call.mu.Unlock()
	call.c.emit(EventAttached, call.id, "re-attached", raw)
}

// Why a call waits for verto.attach.
const (
	attachReload    = "reload"
	attachReconnect = "reconnect"
)

// Media accounting, called by the media goroutines.

func (call *Call) countSent(size int) {
	call.mu.Lock()
	call.sentPackets++
	call.sentBytes += uint64(size)
	call.mu.Unlock()
}

func (call *Call) countReceived(p *rtp.Packet, clock uint32, now time.Time) {
	call.mu.Lock()
	if call.rx.packets == 0 {
		call.firstRTP = now.Sub(call.started)
	}
	call.rx.add(p.SSRC, p.SequenceNumber, p.Timestamp, clock, p.MarshalSize(), now)
	call.changed.notify()
	call.mu.Unlock()
}

func (call *Call) probeSent(k int, t time.Time) {
	call.mu.Lock()
	call.probesSent[k] = t
	call.mu.Unlock()
}

func (call *Call) probeReceived(k int, t time.Time) {
	call.mu.Lock()
	defer call.mu.Unlock()
	call.roundTripLocked(call.probesSent, k, t)
}

// markSent notes when a marked opus packet was sent.
func (call *Call) markSent(mark int, t time.Time) {
	call.mu.Lock()
	defer call.mu.Unlock()
	for k, at := range call.marksSent {
		if t.Sub(at) > 3*call.opts.ProbeInterval {
			delete(call.marksSent, k)
		}
	}
	call.marksSent[mark] = t
}

// echoReceived takes a marked opus packet that came back.
func (call *Call) echoReceived(mark int, t time.Time) {
	call.mu.Lock()
	defer call.mu.Unlock()
	call.roundTripLocked(call.marksSent, mark, t)
}

// roundTripLocked records the round trip of probe or mark k, sent as
// sent[k], when it is plausible.
func (call *Call) roundTripLocked(sent map[int]time.Time, k int, t time.Time) {
	at, ok := sent[k]
	if !ok {
		return
	}
	delete(sent, k)
	if rtt := t.Sub(at); rtt > 0 && rtt < 3*call.opts.ProbeInterval {
		call.rtts = append(call.rtts, float64(rtt)/float64(time.Millisecond))
		call.changed.notify()
	}
}

func (call *Call) networkRTT(d time.Duration) {
	call.mu.Lock()
	call.netRTT = d
	call.mu.Unlock()
}

func (call *Call) setCodec(codec string) {
	call.mu.Lock()
	call.codec = codec
	call.mu.Unlock()
}

func (call *Call) setVideoCodec(codec string) {
	call.mu.Lock()
	call.video.codec = codec
	call.mu.Unlock()
}

// videoFailed records why video does not flow; the call goes on.
func (call *Call) videoFailed(err error) {
	call.mu.Lock()
	if call.video.err == nil {
		call.video.err = err
	}
	call.mu.Unlock()
}

func (call *Call) countVideoSent(packets, size int) {
	call.mu.Lock()
	call.video.sentPackets += uint64(packets)
	call.video.sentBytes += uint64(size)
	call.video.sentFrames++
	call.mu.Unlock()
}

// countVideoReceived counts one video packet; it reports whether a key
// frame has been seen on the stream.
func (call *Call) countVideoReceived(p *rtp.Packet, codec string, now time.Time) bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	key := call.video.add(p, codec, now)
	call.changed.notify()
	return key
}

// Report returns the call's figures: live while it runs, final once Done.
func (call *Call) Report() Report {
	call.mu.Lock()
	defer call.mu.Unlock()
	exp, lost := call.rx.expectedLost()
	r := Report{
		CallID:             call.id,
		NodeUUID:           call.nodeUUID,
		Direction:          string(call.dir),
		Destination:        call.dest,
		Codec:              call.codec,
		Audio:              call.opts.Audio.String(),
		Answered:           !call.answeredAt.IsZero(),
		RTPPacketsSent:     call.sentPackets,
		RTPBytesSent:       call.sentBytes,
		RTPPacketsReceived: call.rx.packets,
		RTPBytesReceived:   call.rx.bytes,
		RTPPacketsExpected: exp,
		RTPPacketsLost:     lost,
		LossPct:            round1(call.rx.lossPct()*10) / 10,
		JitterMS:           round1(call.rx.lastJitterMS*10) / 10,
		MaxJitterMS:        round1(call.rx.maxJitter*10) / 10,
		DTMFSent:           call.dtmf.String(),
		Holds:              call.holds,
		HangupCause:        call.cause,
		HangupCauseCode:    call.causeCode,
		EndedBy:            call.endedBy,
		Reloads:            call.reloads,
		Reconnects:         call.reconnects,
		Reattached:         call.attaches,
	}
	if call.opts.Video.Enabled() {
		r.Video = call.video.report(call.opts.Video.sending())
	}
	if strings.EqualFold(call.codec, CodecOpus) {
		r.Audio = "opus silence"
	}
	if r.Answered {
		r.SetupMS = ms(call.setup)
		end := call.endedAt
		if end.IsZero() {
			end = time.Now()
		}
		r.DurationMS = ms(end.Sub(call.answeredAt))
		r.MaxMediaGapMS = ms(call.maxGapLocked(end))
	}
	if call.rx.packets > 0 {
		r.FirstRTPMS = ms(call.firstRTP)
	}
	if len(call.rtts) > 0 {
		r.RTTMS = round1(median(append([]float64(nil), call.rtts...)))
		r.RTTSamples = len(call.rtts)
	}
	if call.netRTT > 0 {
		r.NetworkRTTMS = ms(call.netRTT)
	}
	if r.Answered && call.rx.packets > 0 {
		r.MOS = mosEstimate(call.rx.lossPct(), call.rx.lastJitterMS, call.netRTT)
	}
	switch {
	case call.err != nil:
		r.Error = call.err.Error()
	case call.mediaErr != nil:
		r.Error = call.mediaErr.Error()
	}
	return r
}

// maxGapLocked is the longest time without received audio between the
// answer and end: between packets, before the first one, after the last.
func (call *Call) maxGapLocked(end time.Time) time.Duration {
	rx := &call.rx
	if rx.packets == 0 {
		return end.Sub(call.answeredAt)
	}
	gap := max(rx.maxGap, end.Sub(rx.lastPacket))
	if rx.firstAt.After(call.answeredAt) {
		gap = max(gap, rx.firstAt.Sub(call.answeredAt))
	}
	return gap
}

// dialogParams are the call data verto.js copies into every call method:
// verto's DialogParams plus the client-side fields verto.js sends.
type dialogParams struct {
	verto.DialogParams
	UseStereo        bool   `json:"useStereo"`
	UseCamera        string `json:"useCamera,omitempty"`
	UseMic           string `json:"useMic,omitempty"`
	UseSpeak         string `json:"useSpeak,omitempty"`
	ScreenShare      bool   `json:"screenShare"`
	DisplayDirection string `json:"display_direction,omitempty"`
}

// callParams are the params of a call method, with the extended
// dialogParams.
type callParams struct {
	verto.CallParams
	DialogParams *dialogParams `json:"dialogParams,omitempty"`
}

// params builds the params of a call method: sessid, sdp when given,
// dialogParams and node_uuid once known (top level and dialogParams).
func (call *Call) params(sdp string, edit func(*callParams)) *callParams {
	o := call.c.opts
	call.mu.Lock()
	co := call.opts
	node := call.nodeUUID
	remoteName, remoteNumber := call.remoteName, call.remoteNumber
	call.mu.Unlock()
	dp := &dialogParams{
		DialogParams: verto.DialogParams{
			CallID:            call.id,
			DestinationNumber: call.dest,
			CallerIDName:      firstOf(co.CallerIDName, o.CallerIDName),
			CallerIDNumber:    firstOf(co.CallerIDNumber, o.CallerIDNumber),
			Login:             o.Login,
			UseVideo:          json.RawMessage(fmt.Sprint(co.Video.Enabled())),
			NodeUUID:          node,
			UserVariables:     co.UserVariables,
		},
		UseCamera: "any", UseMic: "any", UseSpeak: "any",
	}
	if call.dir == DirectionOutbound {
		dp.RemoteCallerIDName = firstOf(co.RemoteCallerIDName, "Outbound Call")
		dp.RemoteCallerIDNumber = firstOf(co.RemoteCallerIDNumber, call.dest)
	} else {
		// an inbound dialog keeps what the invite said
		dp.CallerIDName, dp.CallerIDNumber = remoteName, remoteNumber
		dp.CalleeIDName, dp.CalleeIDNumber = o.CallerIDName, o.CallerIDNumber
		dp.RemoteCallerIDName, dp.RemoteCallerIDNumber = remoteName, remoteNumber
		dp.DisplayDirection = "inbound"
	}
	if dp.UserVariables == nil {
		dp.UserVariables = map[string]any{}
	}
	p := &callParams{
		CallParams:   verto.CallParams{Sessid: call.c.sessid, SDP: sdp, NodeUUID: node},
		DialogParams: dp,
	}
	if edit != nil {
		edit(p)
	}
	return p
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func isVertoError(err error) bool {
	var ve *verto.Error
	return errors.As(err, &ve)
}

// asHangupError turns a request error into a *HangupError, with the cause
// the server put in its error object (CALL ERROR has cause and causeCode).
func asHangupError(err error, endedBy string) *HangupError {
	var he *HangupError
	if errors.As(err, &he) {
		return he
	}
	h := &HangupError{EndedBy: endedBy, Err: err}
	var ve *verto.Error
	if errors.As(err, &ve) {
		var cause string
		var code verto.Flex
		ve.Field("cause", &cause)
		ve.Field("causeCode", &code)
		h.Cause = cause
		h.Code, _ = code.Int()
		if h.Cause == "" && h.Code != 0 {
			h.Cause = verto.Cause(h.Code).String()
		}
		if h.Code == 0 && h.Cause != "" {
			if c, ok := verto.ParseCause(h.Cause); ok {
				h.Code = int(c)
			}
		}
	}
	return h
}
