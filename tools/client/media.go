package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"xccrtc/tools/client/internal/sdpsplit"
)

// Codec names for CallOptions.Codec and the reports.
const (
	CodecPCMU = "PCMU"
	CodecOpus = "opus"
	CodecVP8  = "VP8"
	CodecH264 = "H264"
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
	// Video asks for key frames with PLI and FIR; there is no NACK
	// responder, so NACK is not offered.
	videoFeedback = []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	codecVP8      = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback},
		PayloadType:        96,
	}
	codecH264 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		PayloadType: 102,
	}
)

// opusSilence is one 20 ms opus frame of silence (TOC 0xf8: CELT
// fullband 20 ms, one frame). Sent when the far end accepts only opus:
// there is no opus encoder here without cgo.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// opusMarked is opusSilence carrying mark in padding: a code 3 packet
// (RFC 6716 3.2.5) of one CBR frame with 4 bytes of padding, so it decodes
// as the same silence.
func opusMarked(mark uint32) []byte {
	return []byte{0xfb, 0x41, 0x04, 0xff, 0xfe, byte(mark >> 24), byte(mark >> 16), byte(mark >> 8), byte(mark)}
}

// opusMark reads the mark of an opusMarked packet.
func opusMark(p []byte) (uint32, bool) {
	if len(p) != 9 || p[0] != 0xfb || p[1] != 0x41 || p[2] != 0x04 {
		return 0, false
	}
	return uint32(p[5])<<24 | uint32(p[6])<<16 | uint32(p[7])<<8 | uint32(p[8]), true
}

// codecOrder returns the audio codecs in preference order for prefer.
func codecOrder(prefer string) []webrtc.RTPCodecParameters {
	if strings.EqualFold(prefer, CodecOpus) {
		return []webrtc.RTPCodecParameters{codecOpus, codecPCMU}
	}
	return []webrtc.RTPCodecParameters{codecPCMU, codecOpus}
}

// videoCodecOrder returns the video codecs in preference order for prefer.
func videoCodecOrder(prefer string) []webrtc.RTPCodecParameters {
	if strings.EqualFold(prefer, CodecH264) {
		return []webrtc.RTPCodecParameters{codecH264, codecVP8}
	}
	return []webrtc.RTPCodecParameters{codecVP8, codecH264}
}

// newAPI builds a pion API for one peer connection carrying one kind of
// media: its codecs, RTCP sender and receiver reports (for the round trip),
// and the Settings. RTP from SSRCs that no SDP declared is taken, before or
// after the answer: FreeSWITCH's echo returns the client's own SSRC, a
// transfer brings a new one, early media comes with verto.media.
func newAPI(s Settings, kind webrtc.RTPCodecType) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	codecs := []webrtc.RTPCodecParameters{codecOpus, codecPCMU}
	if kind == webrtc.RTPCodecTypeVideo {
		codecs = []webrtc.RTPCodecParameters{codecVP8, codecH264}
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
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
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

// media is the media of a call: one peer connection (a leg) per media
// section, as FreeSWITCH gives each section its own transport. A reload
// or a re-offer replaces it.
type media struct {
	call *Call
	cert webrtc.Certificate
	legs []*leg

	stop     chan struct{}
	stopOnce sync.Once

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// leg is one media section and its peer connection.
type leg struct {
	m       *media
	kind    webrtc.RTPCodecType
	index   int    // position of its section in the SDPs on the wire
	wireMid string // its a=mid on the wire ("" when the far end uses none)
	pc      *webrtc.PeerConnection
	tr      *webrtc.RTPTransceiver
	audio   *audioTrack
	video   *videoTrack

	startOnce sync.Once
}

func (call *Call) newMedia() (*media, error) {
	// One certificate for the call's legs: one fingerprint, as a browser
	// has, and one key to make.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client: dtls key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("client: dtls certificate: %w", err)
	}
	return &media{call: call, cert: *cert, stop: make(chan struct{})}, nil
}

// newLeg makes the peer connection of one section.
func (m *media) newLeg(kind webrtc.RTPCodecType, index int) (*leg, error) {
	call := m.call
	s := call.c.opts.Settings
	api, err := newAPI(s, kind)
	if err != nil {
		return nil, err
	}
	// No cryptex (RFC 9335): FreeSWITCH does not know it.
	cfg := webrtc.Configuration{Certificates: []webrtc.Certificate{m.cert},
		RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable}
	if len(s.ICEServers) > 0 {
		cfg.ICEServers = []webrtc.ICEServer{{URLs: s.ICEServers, Username: s.ICEUsername, Credential: s.ICECredential}}
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: peer connection: %w", err)
	}
	l := &leg{m: m, kind: kind, index: index, pc: pc}
	m.legs = append(m.legs, l)
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			m.spawn(func() { l.receiveVideo(t) })
		} else {
			m.spawn(func() { l.receiveAudio(t) })
		}
		m.spawn(func() { drainRTCP(r.ReadRTCP, nil) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			l.startOnce.Do(l.started)
		case webrtc.PeerConnectionStateFailed:
			if kind == webrtc.RTPCodecTypeVideo {
				call.c.emit(EventMediaFailed, call.id, "video ICE/DTLS failed", nil)
				call.videoFailed(errors.New("video ICE/DTLS failed"))
				return
			}
			call.c.emit(EventMediaFailed, call.id, "ICE/DTLS failed", nil)
			call.mediaFailed()
		}
	})
	return l, nil
}

// started runs when the leg's ICE and DTLS are up: sending starts.
func (l *leg) started() {
	call := l.m.call
	if l.kind == webrtc.RTPCodecTypeVideo {
		codec := l.video.codecName()
		call.setVideoCodec(codec)
		call.c.emit(EventVideoUp, call.id, codec, nil)
		if l.video.src != nil {
			l.m.spawn(l.sendVideo)
		}
		return
	}
	l.m.spawn(l.sendAudio)
	call.setCodec(l.audio.codecName())
	call.c.emit(EventMediaUp, call.id, l.audio.codecName(), nil)
}

// addTrack adds the leg's sending track with the call's codec preference:
// on a new transceiver for an offer, or on the transceiver the remote offer
// made, for an answer. Video without a file to send only receives.
func (l *leg) addTrack() error {
	pc := l.pc
	o := l.m.call.opts
	var track webrtc.TrackLocal
	prefs := codecOrder(o.Codec)
	if l.kind == webrtc.RTPCodecTypeVideo {
		l.video = &videoTrack{id: "video", streamID: l.m.streamID(), src: o.Video.file}
		prefs = videoCodecOrder(o.Video.codec())
		if l.video.src != nil {
			track = l.video
		}
	} else {
		l.audio = &audioTrack{id: "audio", streamID: l.m.streamID(), prefer: o.Codec}
		track = l.audio
	}
	var tr *webrtc.RTPTransceiver
	var err error
	switch {
	case pc.RemoteDescription() == nil && track == nil:
		tr, err = pc.AddTransceiverFromKind(l.kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	case pc.RemoteDescription() == nil:
		tr, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	case track == nil:
		ts := pc.GetTransceivers()
		if len(ts) == 0 {
			return errors.New("client: add track: no transceiver")
		}
		tr = ts[0]
	default:
		var s *webrtc.RTPSender
		if s, err = pc.AddTrack(track); err == nil {
			for _, t := range pc.GetTransceivers() {
				if t.Sender() == s {
					tr = t
				}
			}
			if tr == nil {
				err = errors.New("no transceiver")
			}
		}
	}
	if err != nil {
		return fmt.Errorf("client: add track: %w", err)
	}
	if pc.RemoteDescription() != nil {
		prefs = remoteCodecs(tr, prefs)
	}
	if err := setCodecPreferences(tr, prefs); err != nil {
		return err
	}
	l.tr = tr
	if s := tr.Sender(); s != nil && track != nil {
		l.m.spawn(func() { drainRTCP(s.ReadRTCP, l.onSenderRTCP) })
	}
	return nil
}

func (m *media) streamID() string { return "xrtc-client-" + m.call.id[:min(8, len(m.call.id))] }

// remoteCodecs returns the codecs a remote offer gave the transceiver, in
// the order of prefs (by name): an answer must use the offer's payload
// types (FreeSWITCH offers opus as 116, VP8 as 103), which are not ours.
func remoteCodecs(tr *webrtc.RTPTransceiver, prefs []webrtc.RTPCodecParameters) []webrtc.RTPCodecParameters {
	offered := tr.Receiver().GetParameters().Codecs
	var out []webrtc.RTPCodecParameters
	for _, want := range prefs {
		for _, c := range offered {
			if strings.EqualFold(c.MimeType, want.MimeType) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return prefs // setCodecPreferences says none is offered
	}
	return out
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
	var names []string
	for _, c := range prefs {
		names = append(names, codecName(c.MimeType))
		if tr.SetCodecPreferences([]webrtc.RTPCodecParameters{c}) == nil {
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return fmt.Errorf("client: codec preferences: the far end offers none of %s", strings.Join(names, ", "))
	}
	if err := tr.SetCodecPreferences(ok); err != nil {
		return fmt.Errorf("client: codec preferences: %w", err)
	}
	return nil
}

func codecName(mime string) string {
	_, name, _ := strings.Cut(mime, "/")
	return name
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

// offer makes a complete offer: a leg for audio and, when the call has
// video, one for video, each with its own transport, ICE gathered (Verto
// does not trickle).
func (m *media) offer(ctx context.Context) (string, error) {
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
	if m.call.opts.Video.Enabled() {
		kinds = append(kinds, webrtc.RTPCodecTypeVideo)
	}
	for i, k := range kinds {
		l, err := m.newLeg(k, i)
		if err != nil {
			return "", err
		}
		l.wireMid = fmt.Sprint(i)
		if err := l.addTrack(); err != nil {
			return "", err
		}
	}
	return m.describe(ctx, func(l *leg) (webrtc.SessionDescription, error) { return l.pc.CreateOffer(nil) }, nil)
}

// answer answers a remote offer: a leg for its first audio section and,
// when the call has video, its first video section; other sections are
// rejected. Sections the far end bundles on one transport share it: only
// the first of them is taken.
func (m *media) answer(ctx context.Context, offer string) (string, error) {
	d, err := sdpsplit.Parse(offer)
	if err != nil {
		return "", fmt.Errorf("client: remote offer: %w", err)
	}
	var haveAudio, haveVideo, haveBundle bool
	for _, s := range d.Sections() {
		var kind webrtc.RTPCodecType
		switch {
		case s.Port == 0 || (s.Bundled && haveBundle):
		case s.Kind == "audio" && !haveAudio:
			kind, haveAudio = webrtc.RTPCodecTypeAudio, true
		case s.Kind == "video" && !haveVideo && m.call.opts.Video.Enabled():
			kind, haveVideo = webrtc.RTPCodecTypeVideo, true
		}
		if kind == 0 {
			continue
		}
		haveBundle = haveBundle || s.Bundled
		l, err := m.newLeg(kind, s.Index)
		if err != nil {
			return "", err
		}
		l.wireMid = s.Mid
		single, err := d.Single(s.Index, "0")
		if err != nil {
			return "", err
		}
		if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: single}); err != nil {
			return "", fmt.Errorf("client: remote offer (%s): %w", s.Kind, err)
		}
		if err := l.addTrack(); err != nil {
			return "", err
		}
	}
	if !haveAudio {
		return "", errors.New("client: remote offer has no audio section")
	}
	return m.describe(ctx, func(l *leg) (webrtc.SessionDescription, error) { return l.pc.CreateAnswer(nil) }, d)
}

// describe makes each leg's description (create), gathers ICE on every leg
// at once and joins their SDPs in section order; sections of remote (an
// offer being answered) without a leg are rejected.
func (m *media) describe(ctx context.Context, create func(*leg) (webrtc.SessionDescription, error), remote *sdpsplit.Desc) (string, error) {
	sdps := make([]string, len(m.legs))
	errs := make([]error, len(m.legs))
	var wg sync.WaitGroup
	for i, l := range m.legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := create(l)
			if err != nil {
				errs[i] = fmt.Errorf("client: create %s: %w", d.Type, err)
				return
			}
			sdps[i], errs[i] = m.gather(ctx, l.pc, d)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var parts []sdpsplit.Part
	if remote == nil {
		for i, l := range m.legs {
			parts = append(parts, sdpsplit.FromPeer(sdps[i], l.wireMid))
		}
	} else {
		for _, s := range remote.Sections() {
			part := remote.Rejected(s.Index)
			for i, l := range m.legs {
				if l.index == s.Index {
					part = sdpsplit.FromPeer(sdps[i], l.wireMid)
				}
			}
			parts = append(parts, part)
		}
	}
	return sdpsplit.Join(parts...)
}

func (m *media) gather(ctx context.Context, pc *webrtc.PeerConnection, d webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
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
	return withDefaultAddress(pc.LocalDescription().SDP), nil
}

// setAnswer applies the far end's answer (verto.media or verto.answer) to
// every leg: each gets its section, with the mid it uses and without
// a=ssrc. A section answered with port 0 closes its leg; an answer without
// audio is an error. A second answer (verto.answer after verto.media) is
// ignored.
func (m *media) setAnswer(answer string) error {
	if m.hasRemote() {
		return nil
	}
	d, err := sdpsplit.Parse(answer)
	if err != nil {
		return fmt.Errorf("client: remote answer: %w", err)
	}
	sections := d.Sections()
	var errs []error
	for _, l := range m.legs {
		if l.index >= len(sections) || sections[l.index].Port == 0 {
			l.reject()
			if l.kind == webrtc.RTPCodecTypeAudio {
				errs = append(errs, errors.New("client: remote answer: audio rejected"))
			} else {
				m.call.videoFailed(errors.New("the far end refused video"))
			}
			continue
		}
		single, err := d.Single(l.index, l.tr.Mid())
		if err == nil {
			err = l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: single})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("client: remote answer (%s): %w", l.kind, err))
		}
	}
	return errors.Join(errs...)
}

// reject closes a leg the far end answered with port 0.
func (l *leg) reject() { _ = l.pc.Close() }

func (m *media) hasRemote() bool {
	for _, l := range m.legs {
		if l.pc.RemoteDescription() != nil {
			return true
		}
	}
	return false
}

// close ends the peer connections and waits for their goroutines.
func (m *media) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stopOnce.Do(func() { close(m.stop) })
	for _, l := range m.legs {
		_ = l.pc.Close()
	}
	m.wg.Wait()
}

// sendAudio writes one RTP packet every 20 ms until the media stops.
func (l *leg) sendAudio() {
	m, call := l.m, l.m.call
	src := call.opts.Audio.source()
	probes := newProbeSet(call.opts.Audio.hz)
	probeEvery := int(call.opts.ProbeInterval / (frameDuration * time.Millisecond))
	if probeEvery < 1 {
		probeEvery = 1
	}
	var (
		seq     = uint16(mrand.Uint32())
		ts      = mrand.Uint32()
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
		b := l.audio.binding()
		if b.w == nil {
			continue
		}
		var pl []byte
		step := uint32(frameSamples)
		if b.opus {
			pl = opusSilence
			step = 960
			if !call.opts.NoProbe && n > 0 && n%probeEvery == 0 {
				pl = opusMarked(uint32(n))
				call.markSent(n, time.Now())
			}
		} else {
			src.next(frame)
			if !call.opts.NoProbe && n > 0 && n%probeEvery == 0 {
				probes.fill(frame, probeK)
				// Noted before the write, as a mark is: an echo on
				// loopback can be back before the writer runs again.
				call.probeSent(probeK%len(probes.freqs), time.Now())
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
			call.countSent(h.MarshalSize() + len(pl))
			seq++
			ts += step
			n++
		}
	}
}

// readRTP reads the next packet of a remote track. It reports false when
// the track is gone; packets it cannot use (a payload type no SDP
// declared, such as comfort noise) are skipped.
func (m *media) readRTP(t *webrtc.TrackRemote) (*rtp.Packet, bool) {
	for {
		p, _, err := t.ReadRTP()
		if err == nil {
			return p, true
		}
		select {
		case <-m.stop:
			return nil, false
		default:
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) {
			return nil, false
		}
	}
}

// receiveAudio counts the far end's RTP and looks for returning probes:
// tone bursts in PCMU, or, with opus (silence, no encoder), the marked
// packets themselves when the far end returns their payload as it was
// (FreeSWITCH's echo does without transcoding).
func (l *leg) receiveAudio(t *webrtc.TrackRemote) {
	m, call := l.m, l.m.call
	codec := t.Codec()
	pcmu := strings.EqualFold(codec.MimeType, webrtc.MimeTypePCMU)
	probes := newProbeSet(call.opts.Audio.hz)
	frame := make([]int16, 0, frameSamples)
	for {
		p, ok := m.readRTP(t)
		if !ok {
			return
		}
		now := time.Now()
		call.countReceived(p, codec.ClockRate, now)
		switch {
		case call.opts.NoProbe || len(p.Payload) == 0:
		case pcmu && webrtc.PayloadType(p.PayloadType) == codecPCMU.PayloadType:
			frame = frame[:0]
			for _, u := range p.Payload {
				frame = append(frame, ulawDecode(u))
			}
			if k := probes.detect(frame); k >= 0 {
				call.probeReceived(k, now)
			}
		case !pcmu:
			if mark, ok := opusMark(p.Payload); ok {
				call.echoReceived(int(mark), now)
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

// onSenderRTCP takes the far end's reports and requests about our stream:
// the round trip from receiver reports, key frame requests for video.
func (l *leg) onSenderRTCP(pkts []rtcp.Packet) {
	if l.kind == webrtc.RTPCodecTypeVideo {
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				l.video.keyFrameRequested()
			}
		}
		return
	}
	ssrc := l.audio.binding().ssrc
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
				l.m.call.networkRTT(d)
			}
		}
	}
}

// audioTrack is the sending audio track. It binds to whichever codec was
// negotiated (PCMU or opus, preferring Codec), which a static pion track
// cannot do.
type audioTrack struct {
	id, streamID, prefer string
	boundTrack
}

func (t *audioTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return t.bind(ctx, codecOrder(t.prefer))
}

// boundTrack is what pion gave one of the client's sending tracks when it
// bound it: codec, payload type, SSRC and writer.
type boundTrack struct {
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

// bind binds the track to the first of prefs the peer connection
// negotiated.
func (t *boundTrack) bind(ctx webrtc.TrackLocalContext, prefs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, error) {
	for _, want := range prefs {
		for _, c := range ctx.CodecParameters() {
			if !strings.EqualFold(c.MimeType, want.MimeType) {
				continue
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			t.b = trackBinding{
				w:     ctx.WriteStream(),
				ssrc:  uint32(ctx.SSRC()),
				pt:    uint8(c.PayloadType),
				opus:  strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus),
				codec: codecName(c.MimeType),
			}
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *boundTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.w = nil
	return nil
}

func (t *boundTrack) binding() trackBinding {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b
}

func (t *boundTrack) codecName() string {
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
