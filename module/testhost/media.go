package testhost

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"xccrtc/module/xrtc"
)

// Codecs the test host speaks. PCMU is what it prefers (it can make a tone
// in PCMU without an encoder); opus-only offers are accepted and get opus
// silence frames instead of a tone.
var (
	pcmu = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0,
	}
	opus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}
)

// opusSilence is one 20 ms opus frame of silence.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// newAPI builds a pion API for one call: one codec, ICE host candidates on
// the loopback address only (or ip), no mDNS, no trickle.
func newAPI(codec webrtc.RTPCodecParameters, ip net.IP) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(codec, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var s webrtc.SettingEngine
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if ip == nil || ip.IsLoopback() {
		s.SetIncludeLoopbackCandidate(true)
		s.SetIPFilter(func(a net.IP) bool { return a.IsLoopback() && a.To4() != nil })
	} else {
		s.SetIPFilter(func(a net.IP) bool { return a.Equal(ip) })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)), nil
}

// checkSDP parses an SDP and picks the codec to answer it with.
func checkSDP(s string) (webrtc.RTPCodecParameters, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %v", xrtc.ErrBadSDP, err)
	}
	hasOpus := false
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			v := strings.ToUpper(a.Value)
			if strings.Contains(v, " PCMU/8000") {
				return pcmu, nil
			}
			if strings.Contains(v, " OPUS/48000") {
				hasOpus = true
			}
		}
	}
	if hasOpus {
		return opus, nil
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: no PCMU or opus audio", xrtc.ErrCodec)
}

// gather sets the local description and waits until every ICE candidate is
// in it (Verto does not trickle).
func gather(pc *webrtc.PeerConnection, d webrtc.SessionDescription, timeout time.Duration) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(timeout):
		return "", errors.New("testhost: ICE gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}

// linearToULaw encodes one 16-bit sample as G.711 mu-law.
func linearToULaw(sample int16) byte {
	const bias, clip = 0x84, 32635
	s := int(sample)
	sign := 0
	if s < 0 {
		s, sign = -s, 0x80
	}
	if s > clip {
		s = clip
	}
	s += bias
	exp := 7
	for mask := 0x4000; s&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (s >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// toneFrames returns one second of a PCMU sine tone in 20 ms frames.
func toneFrames(hz float64) [][]byte {
	frames := make([][]byte, 50)
	for f := range frames {
		b := make([]byte, 160)
		for i := range b {
			n := f*160 + i
			b[i] = linearToULaw(int16(8000 * math.Sin(2*math.Pi*hz*float64(n)/8000)))
		}
		frames[f] = b
	}
	return frames
}

// packetizer numbers the RTP packets a channel sends.
type packetizer struct {
	seq uint16
	ts  uint32
}

func (p *packetizer) next(payload []byte, step uint32) *rtp.Packet {
	p.seq++
	p.ts += step
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: p.seq, Timestamp: p.ts}, Payload: payload}
}

type (
	rtcpPacket       = rtcp.Packet
	interceptorAttrs = interceptor.Attributes
)
