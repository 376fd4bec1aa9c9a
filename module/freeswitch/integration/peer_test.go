//go:build freeswitch

package integration

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// peer is a minimal Verto client with real WebRTC media (pion), written
// here for what the shared client (xccrtc/tools/client) cannot do: stop
// sending RTP while its ICE and DTLS stay up (consent STUN and RTCP keep
// flowing), the case FreeSWITCH's own media_timeout misses (FREESWITCH.md).
// It also checks the module against a second, independent client.
type peer struct {
	t         *testing.T
	sessid    string
	ws        *websocket.Conn
	wmu       sync.Mutex
	user      string
	codecs    []peerCodec // offered and accepted, in order
	sendCodec peerCodec   // the codec of the audio the peer sends

	mu      sync.Mutex
	cond    *sync.Cond
	nextID  int
	replies map[int]*rpcMsg
	reqs    []*rpcMsg // server requests not yet taken
	closed  bool
}

type rpcMsg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// callID of a server request (params.callID).
func (m *rpcMsg) callID() string {
	var p struct {
		CallID string `json:"callID"`
	}
	_ = json.Unmarshal(m.Params, &p)
	return p.CallID
}

func (m *rpcMsg) param(name string) string {
	var p map[string]any
	_ = json.Unmarshal(m.Params, &p)
	switch v := p[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// peerCodec is an audio codec of the peer.
type peerCodec struct {
	mime string
	pt   webrtc.PayloadType
}

var (
	pcmu = peerCodec{webrtc.MimeTypePCMU, 0}
	pcma = peerCodec{webrtc.MimeTypePCMA, 8}
)

// dialPeer connects to XCtrl and logs user@testDomain in the way verto.js
// does (login with the sessid only, then with credentials on -32000).
func dialPeer(t *testing.T, url, user string) *peer {
	return dialPeerWith(t, url, user, nil, pcmu)
}

// dialPeerWith logs in with extra login params (userVariables ...) and the
// audio codecs the peer offers and accepts, in order (the first is sent).
func dialPeerWith(t *testing.T, url, user string, login map[string]any, codecs ...peerCodec) *peer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	p := &peer{t: t, user: user, sessid: newID(), ws: ws, replies: map[int]*rpcMsg{}, codecs: codecs, sendCodec: codecs[0]}
	p.cond = sync.NewCond(&p.mu)
	go p.read()
	t.Cleanup(p.close)
	if r := p.request("login", map[string]any{"sessid": p.sessid}); r.Error == nil || r.Error.Code != -32000 {
		t.Fatalf("login without credentials: %+v", r)
	}
	params := map[string]any{"sessid": p.sessid, "login": user + "@" + testDomain, "passwd": "1234"}
	for k, v := range login {
		params[k] = v
	}
	r := p.request("login", params)
	if r.Error != nil {
		t.Fatalf("login %s: %s", user, r.Error.Message)
	}
	// Wait for verto.clientReady, as verto.js and tools/client do: XCtrl
	// tells the nodes about the login (xrtc.login) before it, and a node
	// drops the unanswered calls of a sessid that logs in again.
	p.expect("verto.clientReady", "", 10*time.Second)
	return p
}

func (p *peer) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	_ = p.ws.Close()
}

func (p *peer) read() {
	for {
		_, b, err := p.ws.ReadMessage()
		if err != nil {
			p.close()
			return
		}
		var m rpcMsg
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Method != "" {
			// Ack every server request, as verto.js does.
			if len(m.ID) > 0 {
				p.send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{"method": m.Method}})
			}
			p.mu.Lock()
			p.reqs = append(p.reqs, &m)
			p.cond.Broadcast()
			p.mu.Unlock()
			continue
		}
		var id int
		if json.Unmarshal(m.ID, &id) == nil {
			p.mu.Lock()
			p.replies[id] = &m
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}
}

func (p *peer) send(v any) {
	b, _ := json.Marshal(v)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.ws.WriteMessage(websocket.TextMessage, b)
}

// wait blocks until cond (called with p.mu held) is true or d passes.
func (p *peer) wait(d time.Duration, cond func() bool) bool {
	timer := time.AfterFunc(d, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	for !cond() {
		if p.closed || time.Now().After(deadline) {
			return false
		}
		p.cond.Wait()
	}
	return true
}

// request sends a client request and waits for its reply.
func (p *peer) request(method string, params map[string]any) *rpcMsg {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.mu.Unlock()
	params["sessid"] = p.sessid
	p.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	var r *rpcMsg
	if !p.wait(40*time.Second, func() bool { r = p.replies[id]; return r != nil }) {
		p.t.Fatalf("no reply to %s", method)
	}
	return r
}

// expect waits for a server request with method about callID ("" = any).
func (p *peer) expect(method, callID string, d time.Duration) *rpcMsg {
	p.t.Helper()
	m := p.tryExpect(method, callID, d)
	if m == nil {
		p.t.Fatalf("no %s for call %q in %s", method, callID, d)
	}
	return m
}

func (p *peer) tryExpect(method, callID string, d time.Duration) *rpcMsg {
	var got *rpcMsg
	p.wait(d, func() bool {
		for i, m := range p.reqs {
			if m.Method == method && (callID == "" || m.callID() == callID) {
				got = m
				p.reqs = append(p.reqs[:i], p.reqs[i+1:]...)
				return true
			}
		}
		return false
	})
	return got
}

// pcall is one call of the peer, with its media.
type pcall struct {
	p         *peer
	id        string
	pc        *webrtc.PeerConnection
	node      string
	localSDP  string // the peer's offer (calls it places)
	remoteSDP string // FreeSWITCH's SDP as it came

	sending  atomic.Bool
	sent     atomic.Uint64
	received *atomic.Uint64 // RTP packets that reached the peer's socket
	sock     *rtpCounter
	done     chan struct{}
}

func (p *peer) newCall(id string) *pcall {
	p.t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range p.codecs {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.mime, ClockRate: 8000},
			PayloadType:        c.pt,
		}, webrtc.RTPCodecTypeAudio); err != nil {
			p.t.Fatal(err)
		}
	}
	// The peer's media socket counts the RTP that reaches it, whatever its
	// SSRC: FreeSWITCH forwards bridged and echoed RTP with the SSRC it came
	// with, which pion, unlike a browser, does not rebind to.
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	sock := &rtpCounter{PacketConn: udp}
	se := webrtc.SettingEngine{}
	mux := webrtc.NewICEUDPMux(nil, sock)
	se.SetICEUDPMux(mux)
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil { // RTCP keeps flowing when RTP stops
		p.t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Fatal(err)
	}
	c := &pcall{p: p, id: id, pc: pc, done: make(chan struct{}), received: &sock.rtp, sock: sock}
	p.t.Cleanup(func() { _ = mux.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: p.sendCodec.mime, ClockRate: 8000}, "audio", "xrtc-peer")
	if err != nil {
		p.t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		p.t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	c.sending.Store(true)
	go c.sendLoop(track)
	p.t.Cleanup(c.close)
	return c
}

// sendLoop writes a 1 kHz tone (G.711, the peer's send codec) every 20 ms
// while sending is on. It writes the RTP itself, marking only the first
// packet of a talkspurt as RFC 3551 says (pion's sample writer marks every
// packet, and FreeSWITCH flushes its read buffer on every marked packet of
// a bridged leg, whose jitter buffer is paused: the audio would be lost).
func (c *pcall) sendLoop(track *webrtc.TrackLocalStaticRTP) {
	frame := make([]byte, 160)
	for i := range frame {
		frame[i] = ulaw(int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
		if c.p.sendCodec == pcma {
			frame[i] ^= 0x55 // not a-law, but valid G.711 bytes: the test counts packets
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	talking := false
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		ts += 160
		if c.pc.ConnectionState() != webrtc.PeerConnectionStateConnected || !c.sending.Load() {
			talking = false
			continue
		}
		seq++
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: !talking, SequenceNumber: seq, Timestamp: ts}, Payload: frame}
		talking = true
		if track.WriteRTP(pkt) == nil {
			c.sent.Add(1)
		}
	}
}

func (c *pcall) close() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	_ = c.pc.Close()
}

// ulaw encodes one sample (G.711 μ-law).
func ulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	v := int(s)
	if v < 0 {
		v, sign = -v, 0x80
	}
	if v > clip {
		v = clip
	}
	v += bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^(sign | byte(exp<<4) | byte(mant))
}

func (c *pcall) gathered(set func() error) string {
	c.p.t.Helper()
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := set(); err != nil {
		c.p.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.p.t.Fatal("ICE gathering did not complete")
	}
	return c.pc.LocalDescription().SDP
}

// call places a call to dest and waits until FreeSWITCH answers it.
func (p *peer) call(dest string) *pcall {
	p.t.Helper()
	c := p.place(dest)
	c.awaitAnswer(30 * time.Second)
	return c
}

// place sends a verto.invite to dest and returns once the node created the
// call ("CALL CREATED").
func (p *peer) place(dest string) *pcall {
	p.t.Helper()
	c := p.newCall(newID())
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	sdp := c.gathered(func() error { return c.pc.SetLocalDescription(offer) })
	r := p.request("verto.invite", map[string]any{
		"sdp":          sdp,
		"dialogParams": map[string]any{"callID": c.id, "destination_number": dest, "caller_id_number": "1000"},
	})
	if r.Error != nil || !strings.Contains(string(r.Result), "CALL CREATED") {
		p.t.Fatalf("verto.invite %s: %+v %s", dest, r.Error, r.Result)
	}
	var res struct {
		NodeUUID string `json:"node_uuid"`
	}
	_ = json.Unmarshal(r.Result, &res)
	c.node = res.NodeUUID
	c.localSDP = sdp
	return c
}

// awaitAnswer waits for FreeSWITCH's answer (verto.answer, or verto.media
// with the SDP first) and starts the media.
func (c *pcall) awaitAnswer(d time.Duration) {
	p := c.p
	p.t.Helper()
	ans := p.expect("verto.answer", c.id, d)
	sdpAns := ans.param("sdp")
	if sdpAns == "" {
		if media := p.tryExpect("verto.media", c.id, 0); media != nil {
			sdpAns = media.param("sdp")
		}
	}
	c.remoteSDP = sdpAns
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: forPion(sdpAns, sdpMids(c.localSDP))}); err != nil {
		p.t.Fatalf("answer SDP: %v\n%s", err, sdpAns)
	}
}

// answer waits for a call (verto.invite from the server) and answers it.
func (p *peer) answer(d time.Duration) *pcall {
	p.t.Helper()
	inv := p.expect("verto.invite", "", d)
	c := p.newCall(inv.callID())
	c.node = inv.param("node_uuid")
	c.remoteSDP = inv.param("sdp")
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: forPion(c.remoteSDP, nil)}); err != nil {
		p.t.Fatalf("offer SDP: %v\n%s", err, inv.param("sdp"))
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	sdp := c.gathered(func() error { return c.pc.SetLocalDescription(ans) })
	r := p.request("verto.answer", map[string]any{
		"sdp":          sdp,
		"node_uuid":    c.node,
		"dialogParams": map[string]any{"callID": c.id, "callee_id_name": "Peer " + p.user, "callee_id_number": p.user},
	})
	if r.Error != nil {
		p.t.Fatalf("verto.answer: %s", r.Error.Message)
	}
	return c
}

// waitReceived waits until n RTP packets came in.
func (c *pcall) waitReceived(n uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for c.received.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// bye hangs the call up and returns the server's cause.
func (c *pcall) bye() string {
	c.p.t.Helper()
	r := c.p.request("verto.bye", map[string]any{"node_uuid": c.node, "dialogParams": map[string]any{"callID": c.id}})
	c.close()
	if r.Error != nil {
		c.p.t.Fatalf("verto.bye: %s", r.Error.Message)
	}
	var res struct {
		Cause string `json:"cause"`
	}
	_ = json.Unmarshal(r.Result, &res)
	return res.Cause
}

// waitBye waits for the server's verto.bye and returns its cause and the
// state the peer connection was in when it came.
func (c *pcall) waitBye(d time.Duration) (cause, code string, state webrtc.PeerConnectionState) {
	c.p.t.Helper()
	m := c.p.expect("verto.bye", c.id, d)
	state = c.pc.ConnectionState()
	c.close()
	return m.param("cause"), m.param("causeCode"), state
}

func (c *pcall) String() string {
	return fmt.Sprintf("call %s: %s, sent %d RTP, received %d RTP", c.id, c.pc.ConnectionState(), c.sent.Load(), c.received.Load())
}

// rtpCounter is the peer's media socket: it counts the (S)RTP media packets
// it reads (RTP version 2, not an RTCP packet type: RFC 5761), before
// pion sorts them by SSRC.
type rtpCounter struct {
	net.PacketConn
	rtp atomic.Uint64

	mu       sync.Mutex
	arrivals []time.Time // when recording
	record   bool
}

func (c *rtpCounter) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil && n >= 12 && b[0]&0xc0 == 0x80 {
		if pt := b[1] & 0x7f; pt < 64 || pt > 95 {
			c.rtp.Add(1)
			c.mu.Lock()
			if c.record {
				c.arrivals = append(c.arrivals, time.Now())
			}
			c.mu.Unlock()
		}
	}
	return n, addr, err
}

// recordArrivals starts (true) or stops recording RTP arrival times and
// returns what was recorded.
func (c *rtpCounter) recordArrivals(on bool) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.arrivals
	c.arrivals, c.record = nil, on
	return out
}
