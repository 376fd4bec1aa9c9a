// Package testhost is a switch for the xrtc endpoint written in Go, with
// pion for media: it implements xrtc.Host so that the whole signalling path
// (XCtrl, NATS, the endpoint) runs in tests and in the demo without
// FreeSWITCH. It is not FreeSWITCH: no dialplan XML, no transcoding, no
// mixing. It answers offers with real ICE and DTLS-SRTP, plays echo, a tone
// or silence, counts the RTP media packets it receives, and keeps a minimal
// conference (members, liveArray, chat, moderator commands) so that the
// event-channel relay can be exercised.
//
// Its dialplan:
//
//	9196        answer, echo the caller's audio back
//	9197        answer, play a 440 Hz tone (PCMU)
//	9198        answer, send nothing (for media-timeout tests)
//	9195        early media only: verto.media and a tone, never answered
//	3000-3099   answer and join conference <number>
//	anything    else NO_ROUTE_DESTINATION
package testhost

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"xccrtc/module/internal/goroutines"
	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// Events is what the host reports to; *xrtc.Endpoint is one.
type Events interface {
	ChannelProgress(uuid, localSDP string)
	ChannelAnswer(uuid, localSDP string)
	ChannelHangup(uuid string, cause verto.Cause)
	DeliverEvent(channel string, event json.RawMessage) error
}

// HostOptions configure a Host.
type HostOptions struct {
	// Domain is the switch's default domain ("xswitch.cn" when empty).
	Domain string
	// IP is the address media binds to; nil is 127.0.0.1.
	IP net.IP
	// ToneHz is the frequency of the 9197 tone (440 when 0).
	ToneHz float64
	// Log receives the host's logs.
	Log *slog.Logger
	// Directory answers XCtrl's user lookups (userlookup.go); nil: none.
	Directory UserDirectory
}

// Host is the Go test switch. Create it with NewHost, give it the endpoint
// with Bind.
type Host struct {
	opts     HostOptions
	coreUUID string
	log      *slog.Logger
	group    *goroutines.Group
	tone     [][]byte

	mu        sync.Mutex
	ev        Events
	channels  map[string]*Channel
	confs     map[string]*conference
	chats     []xrtc.Chat
	total     int64
	peak      int
	closed    bool
	createdCh chan *Channel
}

// NewHost makes a host.
func NewHost(o HostOptions) *Host {
	if o.Domain == "" {
		o.Domain = "xswitch.cn"
	}
	if o.ToneHz == 0 {
		o.ToneHz = 440
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	h := &Host{
		opts:      o,
		coreUUID:  newUUID(),
		log:       o.Log,
		channels:  make(map[string]*Channel),
		group:     goroutines.New(),
		confs:     make(map[string]*conference),
		tone:      toneFrames(o.ToneHz),
		createdCh: make(chan *Channel, 64),
	}
	return h
}

// Bind gives the host the endpoint it reports to.
func (h *Host) Bind(ev Events) {
	h.mu.Lock()
	h.ev = ev
	h.mu.Unlock()
}

func (h *Host) events() Events {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ev
}

// Status implements xrtc.Host.
func (h *Host) Status() xrtc.HostStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	ip := "127.0.0.1"
	if h.opts.IP != nil {
		ip = h.opts.IP.String()
	}
	return xrtc.HostStatus{
		CoreUUID: h.coreUUID, Hostname: "testhost", Version: "testhost (pion, not FreeSWITCH)", IP: ip,
		DefaultDomain: h.opts.Domain, Sessions: len(h.channels), SessionsMax: 1000,
		SessionsSinceStartup: h.total, SessionPeakMax: h.peak,
	}
}

// Domain is the host's default domain.
func (h *Host) Domain() string { return h.opts.Domain }

// NewInboundCall implements xrtc.Host: the offer is checked and set on a
// new peer connection. The channel is routed by the dialplan above, on its
// own goroutine, once the endpoint calls Start (xrtc.Starter).
func (h *Host) NewInboundCall(spec xrtc.InboundSpec) (xrtc.Channel, error) {
	codec, err := checkSDP(spec.RemoteSDP)
	if err != nil {
		return nil, err
	}
	ch := h.newChannel(spec.UUID, xrtc.Inbound, codec)
	ch.inbound = &spec
	ch.vars = copyVars(spec.Vars)
	if err := ch.acceptOffer(spec.RemoteSDP); err != nil {
		return nil, err
	}
	if err := h.add(ch); err != nil {
		ch.closeMedia()
		return nil, err
	}
	return ch, nil
}

// Start implements xrtc.Starter: the endpoint has answered the client's
// verto.invite; route the channel now.
func (ch *Channel) Start() {
	ch.mu.Lock()
	started := ch.started
	ch.started = true
	ch.mu.Unlock()
	if started || ch.inbound == nil {
		return
	}
	if !ch.h.goSafe(func() { ch.h.route(ch) }) {
		ch.Hangup(verto.CauseSystemShutdown)
	}
}

// NewOutboundCall implements xrtc.Host. The channel plays the application
// named by its variable testhost_app (echo, tone, silence; echo when unset)
// once the user answers.
func (h *Host) NewOutboundCall(spec xrtc.OutboundSpec) (xrtc.Channel, error) {
	ch := h.newChannel(spec.UUID, xrtc.Outbound, pcmu)
	ch.outbound = &spec
	ch.vars = copyVars(spec.Vars)
	ch.app = App(firstNonEmpty(spec.Vars["testhost_app"], string(AppEcho)))
	if err := h.add(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

func (h *Host) add(ch *Channel) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &xrtc.CauseError{Cause: verto.CauseSystemShutdown}
	}
	if _, dup := h.channels[ch.uuid]; dup {
		return &xrtc.CauseError{Cause: verto.CauseInvalidCallReference}
	}
	h.channels[ch.uuid] = ch
	h.total++
	h.peak = max(h.peak, len(h.channels))
	select {
	case h.createdCh <- ch:
	default:
	}
	return nil
}

func (h *Host) remove(ch *Channel) {
	h.mu.Lock()
	if h.channels[ch.uuid] == ch {
		delete(h.channels, ch.uuid)
	}
	h.mu.Unlock()
}

// Channel returns a live channel.
func (h *Host) Channel(uuid string) *Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.channels[uuid]
}

// Created delivers every channel the host creates (the last 64 if nobody
// reads).
func (h *Host) Created() <-chan *Channel { return h.createdCh }

// Chats returns the chat messages clients sent (verto.info msg).
func (h *Host) Chats() []xrtc.Chat {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]xrtc.Chat(nil), h.chats...)
}

// SendChat implements xrtc.Host: the message is kept (Chats) and goes
// through the chat plan (switch.go).
func (h *Host) SendChat(m xrtc.Chat) error {
	h.mu.Lock()
	h.chats = append(h.chats, m)
	h.mu.Unlock()
	h.chatPlan(m)
	return nil
}

// Broadcast implements xrtc.Host: the conferences' liveArray, chat and
// moderator channels answer; other channels have no listener.
func (h *Host) Broadcast(channel string, event json.RawMessage) error {
	h.mu.Lock()
	var conf *conference
	for _, c := range h.confs {
		if c.owns(channel) {
			conf = c
			break
		}
	}
	h.mu.Unlock()
	if conf != nil {
		conf.broadcast(channel, event)
	}
	return nil
}

// route is the dialplan.
func (h *Host) route(ch *Channel) {
	dest := ch.inbound.Caller.DestinationNumber
	switch dest {
	case "9196":
		ch.setApp(AppEcho)
		ch.answerInbound(false)
	case "9197":
		ch.setApp(AppTone)
		ch.answerInbound(false)
	case "9198":
		ch.setApp(AppSilence)
		ch.answerInbound(false)
	case "9195":
		ch.setApp(AppTone)
		ch.answerInbound(true)
	default:
		if n, err := strconv.Atoi(dest); err == nil && n >= 3000 && n <= 3099 && len(dest) == 4 {
			ch.setApp(AppSilence)
			if ch.answerInbound(false) {
				h.conference(dest, firstNonEmpty(ch.varValue("verto_host"), h.opts.Domain)).join(ch)
			}
			return
		}
		h.log.Info("testhost: no route", "destination", dest, "call_id", ch.uuid)
		ch.Hangup(verto.CauseNoRouteDestination)
	}
}

func (h *Host) conference(name, domain string) *conference {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := name + "@" + domain
	c := h.confs[key]
	if c == nil {
		c = newConference(h, name, domain)
		h.confs[key] = c
	}
	return c
}

// Close hangs up every channel (SYSTEM_SHUTDOWN) and waits for the host's
// goroutines.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	chans := make([]*Channel, 0, len(h.channels))
	for _, c := range h.channels {
		chans = append(chans, c)
	}
	h.mu.Unlock()
	for _, c := range chans {
		c.Hangup(verto.CauseSystemShutdown)
	}
	h.group.Wait()
	h.group.Close()
	h.group.Wait()
}

// goSafe runs f on a goroutine counted by h's group, recovering and
// logging a panic; it reports false once the host is closing.
func (h *Host) goSafe(f func()) bool {
	if !h.group.Enter() {
		return false
	}
	go func() {
		defer h.group.Leave()
		defer func() {
			if v := recover(); v != nil {
				h.log.Error("testhost: recovered panic", "panic", v)
			}
		}()
		f()
	}()
	return true
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func copyVars(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
