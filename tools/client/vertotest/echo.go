package vertotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"xccrtc/tools/client/internal/sdpsplit"
)

// echoPeer is the far end of a call, made like FreeSWITCH's media: one
// pion peer connection (leg) per media section, each with its own
// transport, SDPs without a=mid or BUNDLE, and an echo that sends every RTP
// packet back as it came, the client's own SSRC included (FreeSWITCH's
// echo application without rtp_rewrite_timestamps). Media really flows,
// DTLS-SRTP and all; every dropEvery-th audio packet is dropped to
// simulate loss, and after transferAfter packets the echo moves to a new
// SSRC, sequence and timestamp base, as a transfer or bridge does.
type echoPeer struct {
	cfg  peerConfig
	legs []*echoLeg

	received, echoed           atomic.Uint64 // audio
	videoReceived, videoEchoed atomic.Uint64
	flowing                    chan struct{} // closed when earlyPackets were echoed
	flowOnce                   sync.Once

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// peerConfig configures an echoPeer.
type peerConfig struct {
	codecs        []string // audio codecs in preference order
	noVideo       bool     // refuse video sections
	dropEvery     int
	transferAfter int
}

// earlyPackets is how many packets the echo sends back before an early
// media call is answered.
const earlyPackets = 25

type echoLeg struct {
	p     *echoPeer
	kind  webrtc.RTPCodecType
	index int
	pc    *webrtc.PeerConnection
	track *echoTrack
}

// The far end's payload types are FreeSWITCH's (opus 116, VP8 103, H.264
// 102), not the client's: an answer to its offer must use them.
var codecByName = map[string]webrtc.RTPCodecParameters{
	"PCMU": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	"opus": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "useinbandfec=1"}, PayloadType: 116},
}

var videoCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}, PayloadType: 103},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}},
		SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102},
}

func newEchoPeer(cfg peerConfig) (*echoPeer, error) {
	for _, name := range cfg.codecs {
		if _, ok := codecByName[name]; !ok {
			return nil, fmt.Errorf("vertotest: unknown codec %q", name)
		}
	}
	return &echoPeer{cfg: cfg, flowing: make(chan struct{})}, nil
}

// newLeg makes the peer connection of one section.
func (e *echoPeer) newLeg(kind webrtc.RTPCodecType, index int) (*echoLeg, error) {
	me := &webrtc.MediaEngine{}
	var codecs []webrtc.RTPCodecParameters
	if kind == webrtc.RTPCodecTypeVideo {
		codecs = videoCodecs
	} else {
		for _, name := range e.cfg.codecs {
			codecs = append(codecs, codecByName[name])
		}
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, kind); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable})
	if err != nil {
		return nil, err
	}
	l := &echoLeg{p: e, kind: kind, index: index, pc: pc, track: &echoTrack{kind: kind, codecs: codecs}}
	e.legs = append(e.legs, l)
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		e.spawn(func() { l.echo(t) })
		e.spawn(func() { drain(r.ReadRTCP) })
	})
	return l, nil
}

func drain(read func() ([]rtcp.Packet, interceptor.Attributes, error)) {
	for {
		if _, _, err := read(); err != nil {
			return
		}
	}
}

func (e *echoPeer) spawn(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// echo sends back what the client sends on one leg.
func (l *echoLeg) echo(t *webrtc.TrackRemote) {
	e := l.p
	received, echoed := &e.received, &e.echoed
	if l.kind == webrtc.RTPCodecTypeVideo {
		received, echoed = &e.videoReceived, &e.videoEchoed
	}
	var moved bool
	var ssrc, seqOff, tsOff uint32
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || e.isClosed() || strings.Contains(err.Error(), "EOF") {
				return
			}
			continue
		}
		n := received.Add(1)
		if l.kind == webrtc.RTPCodecTypeAudio && e.cfg.dropEvery > 0 && n%uint64(e.cfg.dropEvery) == 0 {
			continue
		}
		if e.cfg.transferAfter > 0 && n > uint64(e.cfg.transferAfter) {
			if !moved {
				moved = true
				ssrc, seqOff, tsOff = p.SSRC^0x5a5a5a5a, 30000, 123456789
			}
			p.SSRC = ssrc
			p.SequenceNumber += uint16(seqOff)
			p.Timestamp += tsOff
		}
		if l.track.write(p) != nil {
			continue
		}
		if m := echoed.Add(1); l.kind == webrtc.RTPCodecTypeAudio && m >= earlyPackets {
			e.flowOnce.Do(func() { close(e.flowing) })
		}
	}
}

func (e *echoPeer) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// echoTrack writes packets as they come, SSRC and all.
type echoTrack struct {
	kind   webrtc.RTPCodecType
	codecs []webrtc.RTPCodecParameters

	mu sync.Mutex
	w  webrtc.TrackLocalWriter
}

func (t *echoTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, want := range t.codecs {
		for _, c := range ctx.CodecParameters() {
			if strings.EqualFold(c.MimeType, want.MimeType) {
				t.mu.Lock()
				t.w = ctx.WriteStream()
				t.mu.Unlock()
				return c, nil
			}
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *echoTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

func (t *echoTrack) write(p *rtp.Packet) error {
	t.mu.Lock()
	w := t.w
	t.mu.Unlock()
	if w == nil {
		return errors.New("not bound")
	}
	_, err := w.WriteRTP(&p.Header, p.Payload)
	return err
}

func (t *echoTrack) ID() string                { return "echo-" + t.kind.String() }
func (t *echoTrack) RID() string               { return "" }
func (t *echoTrack) StreamID() string          { return "vertotest" }
func (t *echoTrack) Kind() webrtc.RTPCodecType { return t.kind }

func (l *echoLeg) addTrack() error {
	s, err := l.pc.AddTrack(l.track)
	if err != nil {
		return err
	}
	l.p.spawn(func() { drain(s.ReadRTCP) })
	return nil
}

// answer answers a client's offer as FreeSWITCH does: each section it
// takes on a transport of its own, the others rejected, no a=mid.
func (e *echoPeer) answer(ctx context.Context, offer string) (string, error) {
	d, err := sdpsplit.Parse(offer)
	if err != nil {
		return "", err
	}
	var parts []sdpsplit.Part
	var legs []*echoLeg
	for _, s := range d.Sections() {
		kind := webrtc.NewRTPCodecType(s.Kind)
		if s.Port == 0 || kind == 0 || kind == webrtc.RTPCodecTypeVideo && e.cfg.noVideo {
			parts = append(parts, d.Rejected(s.Index))
			continue
		}
		l, err := e.newLeg(kind, s.Index)
		if err != nil {
			return "", err
		}
		single, err := d.Single(s.Index, "0")
		if err != nil {
			return "", err
		}
		if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: single}); err != nil {
			return "", err
		}
		if err := l.addTrack(); err != nil {
			return "", err
		}
		legs = append(legs, l)
		parts = append(parts, sdpsplit.Part{})
	}
	sdps, err := e.describe(ctx, legs, func(l *echoLeg) (webrtc.SessionDescription, error) { return l.pc.CreateAnswer(nil) })
	if err != nil {
		return "", err
	}
	for i, l := range legs {
		parts[l.index] = sdpsplit.FromPeer(sdps[i], "")
	}
	return e.join(parts)
}

// offer makes an offer for a call to the client (verto.invite or
// verto.attach) as FreeSWITCH does: audio, and video when asked, each on a
// transport of its own, no a=mid.
func (e *echoPeer) offer(ctx context.Context, video bool) (string, error) {
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
	if video {
		kinds = append(kinds, webrtc.RTPCodecTypeVideo)
	}
	for i, k := range kinds {
		l, err := e.newLeg(k, i)
		if err != nil {
			return "", err
		}
		if err := l.addTrack(); err != nil {
			return "", err
		}
	}
	sdps, err := e.describe(ctx, e.legs, func(l *echoLeg) (webrtc.SessionDescription, error) { return l.pc.CreateOffer(nil) })
	if err != nil {
		return "", err
	}
	var parts []sdpsplit.Part
	for _, s := range sdps {
		parts = append(parts, sdpsplit.FromPeer(s, ""))
	}
	return e.join(parts)
}

func (e *echoPeer) join(parts []sdpsplit.Part) (string, error) {
	s, err := sdpsplit.Join(parts...)
	if err != nil {
		return "", err
	}
	if !strings.Contains(s, "a=candidate") {
		return "", errors.New("vertotest: no ICE candidate gathered")
	}
	return sdpsplit.StripMids(s), nil
}

func (e *echoPeer) describe(ctx context.Context, legs []*echoLeg, create func(*echoLeg) (webrtc.SessionDescription, error)) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []string
	for _, l := range legs {
		d, err := create(l)
		if err != nil {
			return nil, err
		}
		done := webrtc.GatheringCompletePromise(l.pc)
		if err := l.pc.SetLocalDescription(d); err != nil {
			return nil, err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		out = append(out, l.pc.LocalDescription().SDP)
	}
	return out, nil
}

// setAnswer applies the client's answer to each leg.
func (e *echoPeer) setAnswer(answer string) error {
	d, err := sdpsplit.Parse(answer)
	if err != nil {
		return err
	}
	secs := d.Sections()
	for _, l := range e.legs {
		if l.index >= len(secs) || secs[l.index].Port == 0 {
			_ = l.pc.Close()
			continue
		}
		single, err := d.Single(l.index, "0")
		if err != nil {
			return err
		}
		if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: single}); err != nil {
			return err
		}
	}
	return nil
}

func (e *echoPeer) hasVideo() bool {
	for _, l := range e.legs {
		if l.kind == webrtc.RTPCodecTypeVideo {
			return true
		}
	}
	return false
}

func (e *echoPeer) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	for _, l := range e.legs {
		_ = l.pc.Close()
	}
	e.wg.Wait()
}
