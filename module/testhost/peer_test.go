package testhost_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// peer is a headless browser for the tests: a pion peer connection on the
// loopback interface that sends PCMU (silence, as a muted microphone does)
// every 20 ms while sending is on, and counts what it receives.
type peer struct {
	t       *testing.T
	pc      *webrtc.PeerConnection
	track   *webrtc.TrackLocalStaticRTP
	rtpIn   atomic.Uint64
	nonZero atomic.Uint64 // received payload bytes that are not mu-law silence
	sending atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var s webrtc.SettingEngine
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	// Keepalive STUN every 100 ms, so that "STUN without RTP" is quick to show.
	s.SetICETimeouts(5*time.Second, 25*time.Second, 100*time.Millisecond)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "peer")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, pc: pc, track: track, stop: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.rtpIn.Add(1)
			for _, b := range pkt.Payload {
				if b != 0xff && b != 0x7f {
					p.nonZero.Add(1)
				}
			}
		}
	})
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		silence := make([]byte, 160)
		for i := range silence {
			silence[i] = 0xff
		}
		var seq uint16
		var ts uint32
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			if !p.sending.Load() {
				continue
			}
			seq++
			ts += 160
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: silence})
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	_ = p.pc.Close()
	p.wg.Wait()
}

// offer makes a fully gathered offer (verto.js does not trickle).
func (p *peer) offer() string {
	p.t.Helper()
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.gather(o)
}

func (p *peer) gather(d webrtc.SessionDescription) string {
	p.t.Helper()
	done := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Fatal("ICE gathering timed out")
	}
	return p.pc.LocalDescription().SDP
}

// answer answers the node's offer.
func (p *peer) answer(offer string) string {
	p.t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		p.t.Fatal(err)
	}
	a, err := p.pc.CreateAnswer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.gather(a)
}

// accept takes the node's answer.
func (p *peer) accept(answer string) {
	p.t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		p.t.Fatal(err)
	}
}

// sendRTCP sends a receiver report: RTCP, not media.
func (p *peer) sendRTCP() {
	_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}})
}

// connected reports whether ICE and DTLS are up.
func (p *peer) connected() bool {
	return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected &&
		p.pc.SCTP().Transport().State() == webrtc.DTLSTransportStateConnected
}

// eventually polls cond: counters that move with real media have no event
// to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
