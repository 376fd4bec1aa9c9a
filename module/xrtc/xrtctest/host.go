package xrtctest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// Host is a fake xrtc.Host. It creates channels that record what the
// endpoint does to them and never call back on their own: a test plays the
// switch by calling the endpoint's Channel* entry points itself.
//
// An SDP is "valid" when it starts with "v=0" (else ErrBadSDP) and has an
// "m=audio" line (else ErrCodec).
type Host struct {
	mu       sync.Mutex
	channels map[string]*Channel
	sessions map[string]bool // other sessions of the switch (AddSession)
	created  chan *Channel
	bcasts   chan Broadcast
	chats    chan xrtc.Chat
	status   xrtc.HostStatus
	failNew  error
	sw       switchState // APIRunner, PresenceProber, EventFilter (switch.go)
	// Silent channels record no events (benchmarks and fuzzing).
	Silent bool
	// LateOffer makes the host an xrtc.OfferOnInit host, as FreeSWITCH is:
	// the offer of a call to a user waits for the test to call
	// Endpoint.ChannelInit.
	LateOffer bool
	// OnHangup, if set, is called when the endpoint hangs a channel up (a
	// test can answer with ep.ChannelHangup, as FreeSWITCH would).
	OnHangup func(ch *Channel, cause verto.Cause)
}

// Broadcast is one Host.Broadcast call.
type Broadcast struct {
	Channel string
	Event   json.RawMessage
}

// NewHost returns an empty fake host.
func NewHost() *Host {
	return &Host{
		channels: make(map[string]*Channel),
		created:  make(chan *Channel, 1024),
		bcasts:   make(chan Broadcast, 1024),
		chats:    make(chan xrtc.Chat, 1024),
		status:   xrtc.HostStatus{CoreUUID: "core-uuid", Hostname: "fake", Version: "fake-1", DefaultDomain: "xswitch.cn", SessionsMax: 1000},
	}
}

// AddSession makes the host know a session that is not an xrtc channel (a
// SIP call, say), for Replace.
func (h *Host) AddSession(uuid string) {
	h.mu.Lock()
	if h.sessions == nil {
		h.sessions = map[string]bool{}
	}
	h.sessions[uuid] = true
	h.mu.Unlock()
}

// FailNew makes NewInboundCall and NewOutboundCall fail with err (nil: succeed).
func (h *Host) FailNew(err error) {
	h.mu.Lock()
	h.failNew = err
	h.mu.Unlock()
}

func checkSDP(sdp string) error {
	if !strings.HasPrefix(sdp, "v=0") {
		return xrtc.ErrBadSDP
	}
	if !strings.Contains(sdp, "m=audio") {
		return xrtc.ErrCodec
	}
	return nil
}

// NewInboundCall implements xrtc.Host.
func (h *Host) NewInboundCall(spec xrtc.InboundSpec) (xrtc.Channel, error) {
	if err := checkSDP(spec.RemoteSDP); err != nil {
		return nil, err
	}
	return h.add(&Channel{Inbound: &spec, uuid: spec.UUID})
}

// NewOutboundCall implements xrtc.Host.
func (h *Host) NewOutboundCall(spec xrtc.OutboundSpec) (xrtc.Channel, error) {
	return h.add(&Channel{Outbound: &spec, uuid: spec.UUID})
}

func (h *Host) add(c *Channel) (xrtc.Channel, error) {
	h.mu.Lock()
	if h.failNew != nil {
		err := h.failNew
		h.mu.Unlock()
		return nil, err
	}
	c.host = h
	if h.Silent {
		c.Inbound, c.Outbound = nil, nil
	} else {
		c.events = make(chan string, 256)
	}
	h.channels[c.uuid] = c
	h.status.Sessions++
	silent := h.Silent
	h.mu.Unlock()
	if !silent {
		select {
		case h.created <- c:
		default:
		}
	}
	return c, nil
}

// Recovered makes the channel of a call the switch brought back after a
// restart, for Endpoint.RecoverCall.
func (h *Host) Recovered(uuid string) *Channel {
	ch, _ := h.add(&Channel{uuid: uuid})
	return ch.(*Channel)
}

// Broadcast implements xrtc.Host.
func (h *Host) Broadcast(channel string, event json.RawMessage) error {
	select {
	case h.bcasts <- Broadcast{Channel: channel, Event: append(json.RawMessage(nil), event...)}:
	default:
	}
	return nil
}

// SendChat implements xrtc.Host.
func (h *Host) SendChat(m xrtc.Chat) error {
	select {
	case h.chats <- m:
	default:
	}
	return nil
}

// OfferOnInit implements xrtc.OfferOnInit (LateOffer).
func (h *Host) OfferOnInit() bool { return h.LateOffer }

// Status implements xrtc.Host.
func (h *Host) Status() xrtc.HostStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Channel returns the channel with that UUID.
func (h *Host) Channel(uuid string) *Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.channels[uuid]
}

// NextChannel waits for the next channel the endpoint creates.
func (h *Host) NextChannel(t TB) *Channel {
	t.Helper()
	select {
	case c := <-h.created:
		return c
	case <-time.After(Wait):
		t.Fatalf("no channel created in %s", Wait)
	}
	return nil
}

// NextBroadcast waits for the next Host.Broadcast.
func (h *Host) NextBroadcast(t TB) Broadcast {
	t.Helper()
	select {
	case b := <-h.bcasts:
		return b
	case <-time.After(Wait):
		t.Fatalf("no broadcast in %s", Wait)
	}
	return Broadcast{}
}

// NextChat waits for the next Host.SendChat.
func (h *Host) NextChat(t TB) xrtc.Chat {
	t.Helper()
	select {
	case m := <-h.chats:
		return m
	case <-time.After(Wait):
		t.Fatalf("no chat in %s", Wait)
	}
	return xrtc.Chat{}
}

// Channel is a fake channel. Every action of the endpoint on it is
// recorded as an event string ("hangup:NORMAL_CLEARING", "hold:true",
// "dtmf:123", "ringing", "answered", "offer", "remote-answer", "detach",
// "transfer:1000", "replace:<uuid>", "vars") for Expect.
type Channel struct {
	Inbound  *xrtc.InboundSpec
	Outbound *xrtc.OutboundSpec

	host   *Host
	uuid   string
	rtpIn  atomic.Uint64
	reads  atomic.Int64 // MediaStats calls
	bypass atomic.Bool
	held   atomic.Bool
	events chan string

	mu       sync.Mutex
	hungup   bool
	cause    verto.Cause
	vars     map[string]string
	bridged  bool
	partner  string
	offerErr error
	offers   int
	holdGate chan struct{} // BlockHold
	holding  chan struct{}
}

// UUID implements xrtc.Channel.
func (c *Channel) UUID() string { return c.uuid }

func (c *Channel) record(ev string) {
	if c.events == nil {
		return
	}
	select {
	case c.events <- ev:
	default:
	}
}

func (c *Channel) gone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungup
}

// Offer implements xrtc.Channel.
func (c *Channel) Offer(ctx context.Context) (string, error) {
	c.mu.Lock()
	err := c.offerErr
	c.offers++
	n := c.offers
	c.mu.Unlock()
	if c.gone() {
		return "", xrtc.ErrChannelGone
	}
	if err != nil {
		return "", err
	}
	c.record("offer")
	return fmt.Sprintf("v=0\r\no=fake %d 1 IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", n), nil
}

// FailOffer makes Offer fail with err.
func (c *Channel) FailOffer(err error) {
	c.mu.Lock()
	c.offerErr = err
	c.mu.Unlock()
}

// SetRemoteAnswer implements xrtc.Channel.
func (c *Channel) SetRemoteAnswer(sdp string) error {
	if c.gone() {
		return xrtc.ErrChannelGone
	}
	if err := checkSDP(sdp); err != nil {
		return err
	}
	c.record("remote-answer")
	return nil
}

// Renegotiate implements xrtc.Channel.
func (c *Channel) Renegotiate(offer string) (string, error) {
	if err := checkSDP(offer); err != nil {
		return "", err
	}
	c.record("renegotiate")
	return "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", nil
}

// MarkRinging implements xrtc.Channel.
func (c *Channel) MarkRinging() error { c.record("ringing"); return nil }

// MarkAnswered implements xrtc.Channel.
func (c *Channel) MarkAnswered() error { c.record("answered"); return nil }

// Detach implements xrtc.Channel.
func (c *Channel) Detach() error { c.record("detach"); return nil }

// Hangup implements xrtc.Channel.
func (c *Channel) Hangup(cause verto.Cause) {
	c.mu.Lock()
	if c.hungup {
		c.mu.Unlock()
		return
	}
	c.hungup, c.cause = true, cause
	c.mu.Unlock()
	c.host.mu.Lock()

	c.host.status.Sessions--
	on := c.host.OnHangup
	c.host.mu.Unlock()
	c.record("hangup:" + cause.String())
	if on != nil {
		on(c, cause)
	}
}

// QueueDTMF implements xrtc.Channel.
func (c *Channel) QueueDTMF(d string) error { c.record("dtmf:" + d); return nil }

// Hold implements xrtc.Channel: the switch's hold state (MediaStats.Held)
// follows.
func (c *Channel) Hold(on bool) error {
	c.mu.Lock()
	gate, holding := c.holdGate, c.holding
	c.mu.Unlock()
	if gate != nil {
		select {
		case holding <- struct{}{}:
		default:
		}
		<-gate
	}
	c.held.Store(on)
	c.record(fmt.Sprintf("hold:%v", on))
	return nil
}

// BlockHold makes Hold wait, as a switch busy with it does (FreeSWITCH took
// 250 ms for each), until release is called; holding receives once each
// time a Hold starts waiting.
func (c *Channel) BlockHold() (holding <-chan struct{}, release func()) {
	gate, h := make(chan struct{}), make(chan struct{}, 1)
	c.mu.Lock()
	c.holdGate, c.holding = gate, h
	c.mu.Unlock()
	return h, sync.OnceFunc(func() {
		c.mu.Lock()
		c.holdGate = nil
		c.mu.Unlock()
		close(gate)
	})
}

// SetHeld changes the switch's hold state behind the endpoint's back (a hold
// the switch made on its own).
func (c *Channel) SetHeld(on bool) { c.held.Store(on) }

// SetBridged says whether the channel has a bridged partner (Transfer).
func (c *Channel) SetBridged(b bool) {
	c.mu.Lock()
	c.bridged = b
	c.mu.Unlock()
}

// SetPartner bridges the channel to the session uuid (Partner, Transfer);
// "" unbridges it.
func (c *Channel) SetPartner(uuid string) {
	c.mu.Lock()
	c.partner, c.bridged = uuid, uuid != ""
	c.mu.Unlock()
}

// Partner implements xrtc.Channel.
func (c *Channel) Partner() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partner
}

// Transfer implements xrtc.Channel.
func (c *Channel) Transfer(dest, dialplan, context string) error {
	c.mu.Lock()
	b := c.bridged
	c.mu.Unlock()
	if !b {
		return xrtc.ErrNotBridged
	}
	c.record("transfer:" + dest)
	return nil
}

// Replace implements xrtc.Channel: other may be any session the host
// knows, one of its channels or one added with AddSession.
func (c *Channel) Replace(other string) error {
	c.host.mu.Lock()
	_, known := c.host.channels[other]
	known = known || c.host.sessions[other]
	c.host.mu.Unlock()
	if !known {
		return xrtc.ErrChannelGone
	}
	c.record("replace:" + other)
	return nil
}

// RefreshVideo implements xrtc.Channel.
func (c *Channel) RefreshVideo() error { c.record("video-refresh"); return nil }

// QueueCommand implements xrtc.Channel.
func (c *Channel) QueueCommand(cmd json.RawMessage) error {
	c.record("command:" + string(cmd))
	return nil
}

// SendText implements xrtc.Channel.
func (c *Channel) SendText(txt json.RawMessage) error { c.record("text:" + string(txt)); return nil }

// SetVariables implements xrtc.Channel.
func (c *Channel) SetVariables(vars map[string]string) {
	if c.events == nil {
		return // silent: keep nothing
	}
	c.mu.Lock()
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	for k, v := range vars {
		c.vars[k] = v
	}
	c.mu.Unlock()
	c.record("vars")
}

// Var returns a variable set with SetVariables.
func (c *Channel) Var(k string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vars[k]
}

// MediaStats implements xrtc.Channel.
func (c *Channel) MediaStats() xrtc.MediaStats {
	c.reads.Add(1)
	return xrtc.MediaStats{RTPPacketsIn: c.rtpIn.Load(), Bypass: c.bypass.Load(), Held: c.held.Load()}
}

// SetBypass says the channel's media bypasses the switch (MediaStats.Bypass).
func (c *Channel) SetBypass(on bool) { c.bypass.Store(on) }

// StatsReads is how often MediaStats was called (on FreeSWITCH each call
// locates the session).
func (c *Channel) StatsReads() int64 { return c.reads.Load() }

// AddRTP counts n inbound RTP media packets.
func (c *Channel) AddRTP(n uint64) { c.rtpIn.Add(n) }

// Cause is the cause the endpoint hung up with (NONE if it did not).
func (c *Channel) Cause() verto.Cause {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Expect waits for the next recorded event and fails unless it is want
// (events named in skip are passed over, e.g. "vars").
func (c *Channel) Expect(t TB, want string, skip ...string) {
	t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case ev := <-c.events:
			if ev == want {
				return
			}
			if containsPrefix(skip, ev) {
				continue
			}
			t.Fatalf("channel %s: got event %q, want %q", c.uuid, ev, want)
		case <-deadline:
			t.Fatalf("channel %s: no event %q in %s", c.uuid, want, Wait)
		}
	}
}

// NoEvent fails if an event other than those in skip is pending now.
func (c *Channel) NoEvent(t TB, skip ...string) {
	t.Helper()
	for {
		select {
		case ev := <-c.events:
			if containsPrefix(skip, ev) {
				continue
			}
			t.Fatalf("channel %s: unexpected event %q", c.uuid, ev)
		default:
			return
		}
	}
}

func containsPrefix(ss []string, s string) bool {
	for _, x := range ss {
		if s == x || strings.HasPrefix(s, x+":") {
			return true
		}
	}
	return false
}

// TB is the part of testing.TB the kit uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Wait bounds every wait of the kit: far longer than anything takes, so
// that it only ever ends a broken test.
var Wait = 10 * time.Second
