package testhost

import (
	"context"
	"encoding/json"

	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// App is what a channel plays.
type App string

// Applications of the test host.
const (
	AppEcho    App = "echo"    // send back what comes in
	AppTone    App = "tone"    // a 440 Hz PCMU tone (opus silence for opus-only peers)
	AppSilence App = "silence" // nothing
)

const gatherTimeout = 10 * time.Second

// Channel is a test host channel: one pion peer connection (a new one after
// each re-offer) and its media.
type Channel struct {
	h     *Host
	uuid  string
	dir   xrtc.Direction
	codec webrtc.RTPCodecParameters

	inbound  *xrtc.InboundSpec
	outbound *xrtc.OutboundSpec

	rtpIn, bytesIn, rtpOut, rtcpIn atomic.Uint64

	mu        sync.Mutex
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	media     chan struct{} // closed when pc is closed
	app       App
	held      bool
	answered  bool
	hungup    bool
	cause     verto.Cause
	dtmf      strings.Builder
	vars      map[string]string
	conf      *conference
	done      chan struct{}
	answerCh  chan struct{}
	ringingCh chan struct{}
	started   bool // Start routed the inbound channel
}

func (h *Host) newChannel(uuid string, dir xrtc.Direction, codec webrtc.RTPCodecParameters) *Channel {
	return &Channel{h: h, uuid: uuid, dir: dir, codec: codec, done: make(chan struct{}),
		answerCh: make(chan struct{}), ringingCh: make(chan struct{})}
}

// UUID implements xrtc.Channel.
func (c *Channel) UUID() string { return c.uuid }

// Stats are a test host channel's media counters.
type Stats struct {
	RTPIn, BytesIn, RTPOut, RTCPIn uint64
}

// Stats returns the channel's counters.
func (c *Channel) Stats() Stats {
	return Stats{RTPIn: c.rtpIn.Load(), BytesIn: c.bytesIn.Load(), RTPOut: c.rtpOut.Load(), RTCPIn: c.rtcpIn.Load()}
}

// STUNIn is the number of ICE binding requests received (connectivity
// checks, consent freshness, keepalives) on the current peer connection.
// Call it while no RTP arrives: it takes pion's GetStats, which reads each
// receiver's track without the lock the track's reader takes when a packet
// changes its payload type (a data race in pion v4.2.26, caught once by
// -race in TestEchoCallWithDTLSSRTP when Stats took it).
func (c *Channel) STUNIn() uint64 {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	var n uint64
	if pc != nil {
		for _, st := range pc.GetStats() {
			if p, ok := st.(webrtc.ICECandidatePairStats); ok {
				n += p.RequestsReceived
			}
		}
	}
	return n
}

// Done is closed when the channel hangs up.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Answered is closed when the channel is answered.
func (c *Channel) Answered() <-chan struct{} { return c.answerCh }

// Ringing is closed when a call to a user rings.
func (c *Channel) Ringing() <-chan struct{} { return c.ringingCh }

// Cause is the hang-up cause (NONE while up).
func (c *Channel) Cause() verto.Cause {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// DTMF returns the digits the client sent.
func (c *Channel) DTMF() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dtmf.String()
}

// Held reports whether the channel is on hold.
func (c *Channel) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Var returns a channel variable.
func (c *Channel) Var(k string) string { return c.varValue(k) }

func (c *Channel) varValue(k string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vars[k]
}

func (c *Channel) setApp(a App) {
	c.mu.Lock()
	c.app = a
	c.mu.Unlock()
}

// newPC makes a peer connection with the channel's codec and a send track,
// and starts reading its media. c.mu must not be held.
func (c *Channel) newPC() (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, chan struct{}, error) {
	api, err := newAPI(c.codec, c.h.opts.IP)
	if err != nil {
		return nil, nil, nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, nil, nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(c.codec.RTPCodecCapability, "audio", "xrtc-"+c.uuid)
	if err != nil {
		pc.Close()
		return nil, nil, nil, err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		pc.Close()
		return nil, nil, nil, err
	}
	media := make(chan struct{})
	c.h.goSafe(func() { c.readRTCP(sender.ReadRTCP) })
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		c.h.goSafe(func() { c.readRTCP(r.ReadRTCP) })
		c.readRTP(tr, track)
	})
	return pc, track, media, nil
}

func (c *Channel) readRTCP(read func() ([]rtcpPacket, interceptorAttrs, error)) {
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		c.rtcpIn.Add(uint64(len(pkts)))
	}
}

// readRTP counts inbound RTP media and echoes it when the app says so.
func (c *Channel) readRTP(tr *webrtc.TrackRemote, out *webrtc.TrackLocalStaticRTP) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		c.rtpIn.Add(1)
		c.bytesIn.Add(uint64(len(pkt.Payload)))
		c.mu.Lock()
		echo := c.app == AppEcho && c.answered && !c.held && !c.hungup && c.track == out
		c.mu.Unlock()
		if echo && out.WriteRTP(pkt) == nil {
			c.rtpOut.Add(1)
		}
	}
}

// acceptOffer sets a client's offer on a new peer connection.
func (c *Channel) acceptOffer(offer string) error {
	pc, track, media, err := c.newPC()
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		pc.Close()
		return fmt.Errorf("%w: %v", xrtc.ErrCodec, err)
	}
	c.mu.Lock()
	c.pc, c.track, c.media = pc, track, media
	c.mu.Unlock()
	return nil
}

// answerInbound answers (or, early, pre-answers) a client's call and tells
// the endpoint; false when the call could not be answered.
func (c *Channel) answerInbound(early bool) bool {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		return false
	}
	ans, err := pc.CreateAnswer(nil)
	var sdp string
	if err == nil {
		sdp, err = gather(pc, ans, gatherTimeout)
	}
	if err != nil {
		c.h.log.Warn("testhost: cannot answer", "call_id", c.uuid, "err", err)
		c.Hangup(verto.CauseIncompatibleDestination)
		return false
	}
	ev := c.h.events()
	c.mu.Lock()
	if c.hungup {
		c.mu.Unlock()
		return false
	}
	if !early {
		c.markAnsweredLocked()
	}
	c.mu.Unlock()
	c.startApp()
	if ev != nil {
		if early {
			ev.ChannelProgress(c.uuid, sdp)
		} else {
			ev.ChannelAnswer(c.uuid, sdp)
			c.callstate("ACTIVE") // switch.go
		}
	}
	return true
}

func (c *Channel) markAnsweredLocked() {
	if !c.answered {
		c.answered = true
		close(c.answerCh)
	}
}

// startApp starts what the channel plays on its current peer connection.
func (c *Channel) startApp() {
	c.mu.Lock()
	app, track, media := c.app, c.track, c.media
	c.mu.Unlock()
	if app != AppTone || track == nil {
		return
	}
	c.h.goSafe(func() { c.playTone(track, media) })
}

func (c *Channel) playTone(track *webrtc.TrackLocalStaticRTP, media chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var p packetizer
	for i := 0; ; i++ {
		select {
		case <-media:
			return
		case <-c.done:
			return
		case <-tick.C:
		}
		if c.Held() {
			continue
		}
		payload, step := c.h.tone[i%len(c.h.tone)], uint32(160)
		if c.codec.MimeType == webrtc.MimeTypeOpus {
			payload, step = opusSilence, 960
		}
		if track.WriteRTP(p.next(payload, step)) == nil {
			c.rtpOut.Add(1)
		}
	}
}

// closeMedia closes the current peer connection.
func (c *Channel) closeMedia() {
	c.mu.Lock()
	pc, media := c.pc, c.media
	c.pc, c.track, c.media = nil, nil, nil
	c.mu.Unlock()
	if media != nil {
		close(media)
	}
	if pc != nil {
		_ = pc.Close()
	}
}

// Offer implements xrtc.Channel: a new peer connection (fresh ICE and
// DTLS) and its offer.
func (c *Channel) Offer(ctx context.Context) (string, error) {
	c.mu.Lock()
	gone := c.hungup
	c.mu.Unlock()
	if gone {
		return "", xrtc.ErrChannelGone
	}
	c.closeMedia()
	pc, track, media, err := c.newPC()
	if err != nil {
		return "", err
	}
	offer, err := pc.CreateOffer(nil)
	var sdp string
	if err == nil {
		sdp, err = gather(pc, offer, gatherTimeout)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		pc.Close()
		return "", err
	}
	c.mu.Lock()
	if c.hungup {
		c.mu.Unlock()
		pc.Close()
		return "", xrtc.ErrChannelGone
	}
	c.pc, c.track, c.media = pc, track, media
	c.mu.Unlock()
	return sdp, nil
}

// SetRemoteAnswer implements xrtc.Channel.
func (c *Channel) SetRemoteAnswer(sdp string) error {
	if _, err := checkSDP(sdp); err != nil {
		return err
	}
	c.mu.Lock()
	pc, answered := c.pc, c.answered
	c.mu.Unlock()
	if pc == nil {
		return xrtc.ErrChannelGone
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", xrtc.ErrCodec, err)
	}
	if answered {
		c.startApp() // re-attached: media again
	}
	return nil
}

// Renegotiate implements xrtc.Channel.
func (c *Channel) Renegotiate(offer string) (string, error) {
	if _, err := checkSDP(offer); err != nil {
		return "", err
	}
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		return "", xrtc.ErrChannelGone
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", xrtc.ErrCodec, err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return gather(pc, ans, gatherTimeout)
}

// MarkRinging implements xrtc.Channel.
func (c *Channel) MarkRinging() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ringingCh:
	default:
		close(c.ringingCh)
	}
	return nil
}

// MarkAnswered implements xrtc.Channel: the user answered; the channel's
// app starts.
func (c *Channel) MarkAnswered() error {
	c.mu.Lock()
	if c.hungup {
		c.mu.Unlock()
		return xrtc.ErrChannelGone
	}
	c.markAnsweredLocked()
	c.mu.Unlock()
	c.startApp()
	c.callstate("ACTIVE") // switch.go
	return nil
}

// Detach implements xrtc.Channel: media stops until the next Offer.
func (c *Channel) Detach() error {
	c.closeMedia()
	return nil
}

// Hangup implements xrtc.Channel. As FreeSWITCH does, the host then reports
// the hang-up through ChannelHangup.
func (c *Channel) Hangup(cause verto.Cause) {
	c.mu.Lock()
	if c.hungup {
		c.mu.Unlock()
		return
	}
	c.hungup, c.cause = true, cause
	conf := c.conf
	c.conf = nil
	close(c.done)
	c.mu.Unlock()
	c.closeMedia()
	if conf != nil {
		conf.leave(c)
	}
	c.h.remove(c)
	if ev := c.h.events(); ev != nil {
		ev.ChannelHangup(c.uuid, cause)
	}
	c.callstate("HANGUP") // switch.go
}

// QueueDTMF implements xrtc.Channel.
func (c *Channel) QueueDTMF(d string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hungup {
		return xrtc.ErrChannelGone
	}
	c.dtmf.WriteString(d)
	return nil
}

// Hold implements xrtc.Channel: nothing is sent while held. As
// FreeSWITCH, only an answered channel goes on hold.
func (c *Channel) Hold(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = on && c.answered
	return nil
}

// Transfer implements xrtc.Channel: test host calls are never bridged.
func (c *Channel) Transfer(dest, dialplan, context string) error { return xrtc.ErrNotBridged }

// Replace implements xrtc.Channel: the test host bridges nothing.
func (c *Channel) Replace(otherUUID string) error { return xrtc.ErrNotSupported }

// Partner implements xrtc.Channel: the test host bridges nothing.
func (c *Channel) Partner() string { return "" }

// RefreshVideo implements xrtc.Channel (audio only: nothing to do).
func (c *Channel) RefreshVideo() error { return nil }

// QueueCommand implements xrtc.Channel.
func (c *Channel) QueueCommand(cmd json.RawMessage) error { return nil }

// SendText implements xrtc.Channel.
func (c *Channel) SendText(txt json.RawMessage) error { return nil }

// SetVariables implements xrtc.Channel.
func (c *Channel) SetVariables(vars map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range vars {
		c.vars[k] = v
	}
}

// MediaStats implements xrtc.Channel: RTP media packets read from the
// remote track. STUN (ICE), DTLS and RTCP never reach that reader.
func (c *Channel) MediaStats() xrtc.MediaStats {
	return xrtc.MediaStats{RTPPacketsIn: c.rtpIn.Load(), RTPBytesIn: c.bytesIn.Load(), RTPPacketsOut: c.rtpOut.Load(), Held: c.Held()}
}

// WaitAnswered waits until the channel is answered (nil), hangs up (a
// *xrtc.CauseError with its cause) or ctx ends.
func (c *Channel) WaitAnswered(ctx context.Context) error {
	select {
	case <-c.answerCh:
		return nil
	case <-c.done:
		return &xrtc.CauseError{Cause: c.Cause()}
	case <-ctx.Done():
		return ctx.Err()
	}
}
