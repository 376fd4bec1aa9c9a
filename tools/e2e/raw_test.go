package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"xccrtc/ctrl"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// rawConn is a bare Verto WebSocket: the tests write exactly the frames
// they want (garbage included) and read every frame XCtrl sends.
type rawConn struct {
	e      *env
	ws     *websocket.Conn
	in     chan *verto.Message
	done   chan struct{}
	wmu    sync.Mutex
	id     atomic.Int64
	sessid string
	once   sync.Once

	kept []*verto.Message // read, not yet asked for (test goroutine only)
	log  []*verto.Message // everything read, in order
}

func (e *env) rawDial(i int) *rawConn {
	e.t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(e.ctx, e.st.WSURL(i), nil)
	if err != nil {
		e.t.Fatalf("raw dial xctrl %d: %v", i+1, err)
	}
	rc := &rawConn{e: e, ws: ws, in: make(chan *verto.Message, 1024), done: make(chan struct{}), sessid: ctrl.NewUUID()}
	go rc.read()
	e.onClose(rc.close)
	return rc
}

func (rc *rawConn) read() {
	defer close(rc.done)
	defer close(rc.in)
	for {
		_, b, err := rc.ws.ReadMessage()
		if err != nil {
			return
		}
		var msgs []*verto.Message
		if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
			if json.Unmarshal(b, &msgs) != nil {
				rc.e.t.Errorf("undecodable batch from xctrl: %.200s", b)
				continue
			}
		} else {
			var m verto.Message
			if json.Unmarshal(b, &m) != nil {
				rc.e.t.Errorf("undecodable frame from xctrl: %.200s", b)
				continue
			}
			msgs = append(msgs, &m)
		}
		for _, m := range msgs {
			rc.in <- m
		}
	}
}

func (rc *rawConn) close() {
	rc.once.Do(func() {
		_ = rc.ws.Close()
		<-rc.done
	})
}

// write sends one frame as it is.
func (rc *rawConn) write(typ int, b []byte) {
	rc.e.t.Helper()
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	if err := rc.ws.WriteMessage(typ, b); err != nil {
		rc.e.t.Fatalf("raw write: %v", err)
	}
}

// send writes a request and returns its id.
func (rc *rawConn) send(method string, params any) int64 {
	rc.e.t.Helper()
	id := rc.id.Add(1)
	m, err := verto.NewRequest(verto.IntID(id), method, params)
	if err != nil {
		rc.e.t.Fatal(err)
	}
	b, _ := m.Marshal()
	rc.write(websocket.TextMessage, b)
	return id
}

// next returns the first message, kept or new, that pred accepts; the
// others are kept for later calls (in arrival order) and in the log.
func (rc *rawConn) next(ctx context.Context, what string, pred func(*verto.Message) bool) *verto.Message {
	rc.e.t.Helper()
	for i, m := range rc.kept {
		if pred(m) {
			rc.kept = append(rc.kept[:i:i], rc.kept[i+1:]...)
			return m
		}
	}
	for {
		select {
		case m, ok := <-rc.in:
			if !ok {
				rc.e.t.Fatalf("socket closed waiting for %s", what)
			}
			rc.log = append(rc.log, m)
			if rawDebug {
				b, _ := m.Marshal()
				rc.e.t.Logf("raw <- %.300s", b)
			}
			if pred(m) {
				return m
			}
			rc.kept = append(rc.kept, m)
		case <-ctx.Done():
			rc.e.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// drainKept returns (and forgets) the replies read but not asked for;
// server requests (verto.clientReady, verto.ping ...) are not counted.
func (rc *rawConn) drainKept() []string {
	var out []string
	for _, m := range rc.kept {
		if k := m.Kind(); k == verto.KindResult || k == verto.KindError {
			b, _ := m.Marshal()
			out = append(out, string(b))
		}
	}
	rc.kept = nil
	return out
}

// index is the position of m in the order the frames arrived (-1: never).
func (rc *rawConn) index(m *verto.Message) int {
	for i, x := range rc.log {
		if x == m {
			return i
		}
	}
	return -1
}

// reply waits for the result or error of request id.
func (rc *rawConn) reply(id int64) *verto.Message {
	rc.e.t.Helper()
	return rc.next(rc.e.ctx, fmt.Sprintf("reply %d", id), func(m *verto.Message) bool {
		k := m.Kind()
		return (k == verto.KindResult || k == verto.KindError) && m.ID.Equal(verto.IntID(id))
	})
}

// anyError waits for the next error (garbage may have no readable id).
func (rc *rawConn) anyError(what string) *verto.Error {
	rc.e.t.Helper()
	return rc.next(rc.e.ctx, what, func(m *verto.Message) bool { return m.Kind() == verto.KindError }).Error
}

func (rc *rawConn) request(method string, params any) *verto.Message {
	rc.e.t.Helper()
	return rc.reply(rc.send(method, params))
}

// login logs user in with its password.
func (rc *rawConn) login(user int) {
	rc.e.t.Helper()
	r := rc.request(verto.MethodLogin, map[string]any{"login": stack.User(user), "passwd": stack.Password, "sessid": rc.sessid})
	if r.Error != nil {
		rc.e.t.Fatalf("raw login: %v", r.Error)
	}
}

// ping checks that the socket still answers.
func (rc *rawConn) ping() {
	rc.e.t.Helper()
	r := rc.request(verto.MethodPing, map[string]any{})
	var res verto.MessageResult
	if r.Error != nil || r.DecodeResult(&res) != nil || res.Message != "PONG" {
		rc.e.t.Fatalf("verto.ping: %s %v", r.Result, r.Error)
	}
}

// rawPeer is a bare pion peer connection: PCMU only, RTCP reports on,
// 127.0.0.1. Unlike the client library, the test decides packet by packet
// what it sends, so it can stop RTP while ICE and RTCP go on (a browser
// whose microphone track was removed).
type rawPeer struct {
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	connected chan struct{}
	rtpIn     atomic.Uint64
	wg        sync.WaitGroup
	seq       uint16
	ts        uint32

	mu   sync.Mutex
	lost string // the first ICE state of trouble (disconnected, failed)
}

// iceLost returns the first ICE trouble state seen ("" if none).
func (p *rawPeer) iceLost() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lost
}

func newRawPeer() (*rawPeer, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &rawPeer{pc: pc, connected: make(chan struct{})}
	p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "raw")
	if err == nil {
		_, err = pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateDisconnected || s == webrtc.ICEConnectionStateFailed {
			p.mu.Lock()
			if p.lost == "" {
				p.lost = s.String()
			}
			p.mu.Unlock()
		}
	})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		p.wg.Add(1)
		defer p.wg.Done()
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.rtpIn.Add(1)
		}
	})
	return p, nil
}

// offer makes a complete offer (ICE gathered: Verto does not trickle).
func (p *rawPeer) offer(ctx context.Context) (string, error) {
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	done := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return p.pc.LocalDescription().SDP, nil
}

// sendSilence sends n 20 ms PCMU frames of silence, paced in real time.
func (p *rawPeer) sendSilence(ctx context.Context, n int) error {
	payload := bytes.Repeat([]byte{0xff}, 160) // μ-law silence
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: 0x5eed}, Payload: payload}); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		p.seq++
		p.ts += 160
	}
	return nil
}

func (p *rawPeer) close() {
	_ = p.pc.Close()
	p.wg.Wait()
}

var rawDebug = os.Getenv("E2E_LOG") != ""

func sdpAnswer(s string) webrtc.SessionDescription {
	return webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s}
}
