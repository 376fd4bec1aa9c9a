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
	"github.com/pion/webrtc/v4"
)

// echoPeer is the far end of a call: a pion peer on 127.0.0.1 that sends
// back every RTP packet it receives (media really flows, DTLS-SRTP and
// all), dropping every dropEvery-th one to simulate loss.
type echoPeer struct {
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	dropEvery int

	received atomic.Uint64
	echoed   atomic.Uint64

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

var codecByName = map[string]webrtc.RTPCodecParameters{
	"PCMU": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	"opus": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
}

func newEchoPeer(codecs []string, dropEvery int) (*echoPeer, error) {
	me := &webrtc.MediaEngine{}
	for _, name := range codecs {
		c, ok := codecByName[name]
		if !ok {
			return nil, fmt.Errorf("vertotest: unknown codec %q", name)
		}
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
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
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(codecByName[codecs[0]].RTPCodecCapability, "echo", "vertotest")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	e := &echoPeer{pc: pc, track: track, dropEvery: dropEvery}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		e.spawn(func() { e.echo(t) })
		e.spawn(func() {
			for {
				if _, _, err := r.ReadRTCP(); err != nil {
					return
				}
			}
		})
	})
	return e, nil
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

func (e *echoPeer) echo(t *webrtc.TrackRemote) {
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		n := e.received.Add(1)
		if e.dropEvery > 0 && n%uint64(e.dropEvery) == 0 {
			continue
		}
		if err := e.track.WriteRTP(p); err != nil && !errors.Is(err, net.ErrClosed) {
			continue
		}
		e.echoed.Add(1)
	}
}

func (e *echoPeer) addTrack() error {
	s, err := e.pc.AddTrack(e.track)
	if err != nil {
		return err
	}
	e.spawn(func() {
		for {
			if _, _, err := s.ReadRTCP(); err != nil {
				return
			}
		}
	})
	return nil
}

// answer answers a client's offer, ICE gathered.
func (e *echoPeer) answer(ctx context.Context, offer string) (string, error) {
	if err := e.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	if err := e.addTrack(); err != nil {
		return "", err
	}
	a, err := e.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return e.gather(ctx, a)
}

// offer makes an offer for a call to the client (verto.invite or
// verto.attach), ICE gathered.
func (e *echoPeer) offer(ctx context.Context) (string, error) {
	if err := e.addTrack(); err != nil {
		return "", err
	}
	o, err := e.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return e.gather(ctx, o)
}

func (e *echoPeer) gather(ctx context.Context, d webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(e.pc)
	if err := e.pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	sdp := e.pc.LocalDescription().SDP
	if !strings.Contains(sdp, "a=candidate") {
		return "", errors.New("vertotest: no ICE candidate gathered")
	}
	return sdp, nil
}

func (e *echoPeer) setAnswer(sdp string) error {
	return e.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

func (e *echoPeer) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	_ = e.pc.Close()
	e.wg.Wait()
}
