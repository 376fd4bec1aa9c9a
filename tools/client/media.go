package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Codec names for CallOptions.Codec.
const (
	CodecPCMU = "PCMU"
	CodecOpus = "opus"
)

var (
	codecPCMU = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0,
	}
	codecOpus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}
)

// opusSilence is one 20 ms opus frame of silence (TOC 0xf8: CELT
// fullband 20 ms, one frame). Sent when the far end accepts only opus:
// there is no opus encoder here without cgo.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// codecOrder returns the codecs in preference order for prefer.
func codecOrder(prefer string) []webrtc.RTPCodecParameters {
	if strings.EqualFold(prefer, CodecOpus) {
		return []webrtc.RTPCodecParameters{codecOpus, codecPCMU}
	}
	return []webrtc.RTPCodecParameters{codecPCMU, codecOpus}
}

// newAPI builds a pion API for one peer connection: PCMU and opus, RTCP
// sender and receiver reports (for the round trip), and the Settings.
func newAPI(s Settings) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{codecOpus, codecPCMU} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if s.UDP4Only {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	if s.IncludeLoopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	if s.IPFilter != nil {
		se.SetIPFilter(s.IPFilter)
	}
	if s.PortMin != 0 || s.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(s.PortMin, s.PortMax); err != nil {
			return nil, fmt.Errorf("client: port range: %w", err)
		}
	}
	if len(s.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(s.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	if s.DisableMDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// media is one peer connection of a call. A reload replaces it.
type media struct {
	call  *Call
	pc    *webrtc.PeerConnection
	track *audioTrack
	tr    *webrtc.RTPTransceiver

	stop      chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (call *Call) newMedia() (*media, error) {
	api, err := newAPI(call.c.opts.Settings)
	if err != nil {
		return nil, err
	}
	s := call.c.opts.Settings
	cfg := webrtc.Configuration{}
	if len(s.ICEServers) > 0 {
		cfg.ICEServers = []webrtc.ICEServer{{URLs: s.ICEServers, Username: s.ICEUsername, Credential: s.ICECredential}}
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: peer connection: %w", err)
	}
	m := &media{
		call:  call,
		pc:    pc,
		track: &audioTrack{id: "audio", streamID: "xrtc-client-" + call.id[:8], prefer: call.opts.Codec},
		stop:  make(chan struct{}),
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		m.spawn(func() { m.receive(t) })
		m.spawn(func() { drainRTCP(r.ReadRTCP, nil) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			m.startOnce.Do(func() {
				m.spawn(m.send)
				call.setCodec(m.track.codecName())
				call.c.emit(EventMediaUp, call.id, m.track.codecName(), nil)
			})
		case webrtc.PeerConnectionStateFailed:
			call.c.emit(EventMediaFailed, call.id, "ICE/DTLS failed", nil)
			call.mediaFailed()
		}
	})
	return m, nil
}

// addTrack adds the sending track with the codec preference of the call:
// on a new sendrecv audio transceiver for an offer, or on the transceiver
// the remote offer made, for an answer.
func (m *media) addTrack() error {
	var tr *webrtc.RTPTransceiver
	if m.pc.RemoteDescription() == nil {
		var err error
		tr, err = m.pc.AddTransceiverFromTrack(m.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
		if err != nil {
			return fmt.Errorf("client: add track: %w", err)
		}
	} else {
		s, err := m.pc.AddTrack(m.track)
		if err != nil {
			return fmt.Errorf("client: add track: %w", err)
		}
		for _, t := range m.pc.GetTransceivers() {
			if t.Sender() == s {
				tr = t
			}
		}
		if tr == nil {
			return errors.New("client: add track: no transceiver")
		}
	}
	if err := setCodecPreferences(tr, codecOrder(m.call.opts.Codec)); err != nil {
		return err
	}
	m.tr = tr
	m.spawn(func() { drainRTCP(tr.Sender().ReadRTCP, m.onSenderRTCP) })
	return nil
}

// setCodecPreferences orders the transceiver's codecs as prefs says. When
// answering, the transceiver takes only the codecs the remote offer has
// (FreeSWITCH or the test host may offer PCMU alone): the preference then
// keeps those of prefs the transceiver accepts, in prefs' order.
func setCodecPreferences(tr *webrtc.RTPTransceiver, prefs []webrtc.RTPCodecParameters) error {
	if tr.SetCodecPreferences(prefs) == nil {
		return nil
	}
	var ok []webrtc.RTPCodecParameters
	for _, c := range prefs {
		if tr.SetCodecPreferences([]webrtc.RTPCodecParameters{c}) == nil {
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return fmt.Errorf("client: codec preferences: the far end offers none of PCMU, opus")
	}
	if err := tr.SetCodecPreferences(ok); err != nil {
		return fmt.Errorf("client: codec preferences: %w", err)
	}
	return nil
}

// spawn runs f as one of the media's goroutines, unless it is closing.
func (m *media) spawn(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// offer makes a complete offer: ICE gathering finished, all candidates in
// the SDP (Verto does not trickle).
func (m *media) offer(ctx context.Context) (string, error) {
	if err := m.addTrack(); err != nil {
		return "", err
	}
	o, err := m.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("client: create offer: %w", err)
	}
	return m.gather(ctx, o)
}

// answer sets the remote offer and makes a complete answer.
func (m *media) answer(ctx context.Context, offer string) (string, error) {
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("client: remote offer: %w", err)
	}
	if err := m.addTrack(); err != nil {
		return "", err
	}
	a, err := m.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("client: create answer: %w", err)
	}
	return m.gather(ctx, a)
}

func (m *media) gather(ctx context.Context, d webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(m.pc)
	if err := m.pc.SetLocalDescription(d); err != nil {
		return "", fmt.Errorf("client: local description: %w", err)
	}
	t := time.NewTimer(m.call.c.opts.Settings.GatherTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return "", errors.New("client: ICE gathering timed out")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return m.pc.LocalDescription().SDP, nil
}

// setAnswer applies the far end's answer (verto.media or verto.answer).
func (m *media) setAnswer(sdp string) error {
	if m.pc.RemoteDescription() != nil {
		return nil
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("client: remote answer: %w", err)
	}
	return nil
}

func (m *media) hasRemote() bool { return m.pc.RemoteDescription() != nil }

// close ends the peer connection and waits for its goroutines.
func (m *media) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stopOnce.Do(func() { close(m.stop) })
	_ = m.pc.Close()
	m.wg.Wait()
}

// send writes one RTP packet every 20 ms until the media stops.
func (m *media) send() {
	call := m.call
	src := call.opts.Audio.source()
	probes := newProbeSet(call.opts.Audio.hz)
	probeEvery := int(call.opts.ProbeInterval / (frameDuration * time.Millisecond))
	if probeEvery < 1 {
		probeEvery = 1
	}
	var (
		seq     = uint16(rand.Uint32())
		ts      = rand.Uint32()
		frame   = make([]int16, frameSamples)
		payload = make([]byte, frameSamples)
		n       int
		probeK  int
	)
	tick := time.NewTicker(frameDuration * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		b := m.track.binding()
		if b.w == nil {
			continue
		}
		var pl []byte
		step := uint32(frameSamples)
		probe := -1
		if b.opus {
			pl = opusSilence
			step = 960
		} else {
			src.next(frame)
			if !call.opts.NoProbe && n > 0 && n%probeEvery == 0 {
				probe = probeK
				probes.fill(frame, probeK)
				probeK++
			}
			for i, s := range frame {
				payload[i] = ulawEncode(s)
			}
			pl = payload
		}
		h := rtp.Header{Version: 2, PayloadType: b.pt, SequenceNumber: seq, Timestamp: ts, SSRC: b.ssrc, Marker: n == 0}
		written, err := b.w.WriteRTP(&h, pl)
		if err == nil && written > 0 {
			if probe >= 0 {
				call.probeSent(probe%len(probes.freqs), time.Now())
			}
			call.countSent(h.MarshalSize() + len(pl))
			seq++
			ts += step
			n++
		}
	}
}

// receive counts the far end's RTP and looks for returning probes.
func (m *media) receive(t *webrtc.TrackRemote) {
	call := m.call
	codec := t.Codec()
	pcmu := strings.EqualFold(codec.MimeType, webrtc.MimeTypePCMU)
	probes := newProbeSet(call.opts.Audio.hz)
	frame := make([]int16, 0, frameSamples)
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		call.countReceived(p, codec.ClockRate, now)
		if pcmu && !call.opts.NoProbe && len(p.Payload) > 0 {
			frame = frame[:0]
			for _, u := range p.Payload {
				frame = append(frame, ulawDecode(u))
			}
			if k := probes.detect(frame); k >= 0 {
				call.probeReceived(k, now)
			}
		}
	}
}

// drainRTCP reads RTCP so that the interceptors run; receiver reports about
// our stream give the network round trip.
func drainRTCP(read func() ([]rtcp.Packet, interceptor.Attributes, error), f func([]rtcp.Packet)) {
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		if f != nil {
			f(pkts)
		}
	}
}

// onSenderRTCP takes the far end's reports about our stream.
func (m *media) onSenderRTCP(pkts []rtcp.Packet) {
	ssrc := m.track.binding().ssrc
	now := time.Now()
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.ReceiverReport:
			reports = p.Reports
		case *rtcp.SenderReport:
			reports = p.Reports
		}
		for _, r := range reports {
			if r.SSRC != ssrc {
				continue
			}
			if d, ok := rttFromReport(r, now); ok {
				m.call.networkRTT(d)
			}
		}
	}
}

// audioTrack is the sending track. It binds to whichever codec was
// negotiated (PCMU or opus, preferring Codec), which a static pion track
// cannot do.
type audioTrack struct {
	id, streamID, prefer string

	mu sync.Mutex
	b  trackBinding
}

type trackBinding struct {
	w     webrtc.TrackLocalWriter
	ssrc  uint32
	pt    uint8
	opus  bool
	codec string
}

func (t *audioTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	for _, want := range codecOrder(t.prefer) {
		for _, c := range ctx.CodecParameters() {
			if strings.EqualFold(c.MimeType, want.MimeType) {
				chosen = &c
				break
			}
		}
		if chosen != nil {
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = trackBinding{
		w:     ctx.WriteStream(),
		ssrc:  uint32(ctx.SSRC()),
		pt:    uint8(chosen.PayloadType),
		opus:  strings.EqualFold(chosen.MimeType, webrtc.MimeTypeOpus),
		codec: strings.TrimPrefix(chosen.MimeType, "audio/"),
	}
	return *chosen, nil
}

func (t *audioTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.w = nil
	return nil
}

func (t *audioTrack) binding() trackBinding {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b
}

func (t *audioTrack) codecName() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.codec
}

func (t *audioTrack) ID() string                { return t.id }
func (t *audioTrack) RID() string               { return "" }
func (t *audioTrack) StreamID() string          { return t.streamID }
func (t *audioTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// ntpMiddle returns the middle 32 bits of the NTP time of t, the unit of
// RTCP's LSR and DLSR (1/65536 s).
func ntpMiddle(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32((secs<<32 | frac) >> 16)
}

// rttFromReport returns the round trip a reception report gives, if it
// carries our last sender report.
func rttFromReport(r rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if r.LastSenderReport == 0 {
		return 0, false
	}
	d := ntpMiddle(now) - r.LastSenderReport - r.Delay
	if int32(d) < 0 {
		return 0, false
	}
	return time.Duration(uint64(d) * uint64(time.Second) / 65536), true
}
