//go:build freeswitch

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/verto"
)

// hostileSDPs are offers a client could send to take a node down: each is
// a browser-like offer made too big in one way, well within XCtrl's frame
// bound (256 KiB).
func hostileSDPs(base string) map[string]string {
	head, audio, _ := strings.Cut(base, "m=audio")
	audio = "m=audio" + audio
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
			b.WriteString("\r\n")
		}
		return b.String()
	}
	addToAudio := func(extra string) string {
		return head + strings.Replace(audio, "a=rtcp-mux\r\n", "a=rtcp-mux\r\n"+extra, 1)
	}
	long := strings.Repeat("x", 8<<10)
	var pts []string
	for i := range 2000 {
		pts = append(pts, fmt.Sprint(i%128))
	}
	return map[string]string{
		"200 m-lines": head + strings.Repeat(audio, 200),
		"4000 candidates": addToAudio(lines(4000, func(i int) string {
			return fmt.Sprintf("a=candidate:%d 1 udp 2122260223 10.%d.%d.%d %d typ host", i, i/65536%256, i/256%256, i%256, 10000+i%50000)
		})),
		"3000 rtpmaps": addToAudio(lines(3000, func(i int) string {
			return fmt.Sprintf("a=rtpmap:%d opus%d/48000/2", 96+i%32, i)
		})),
		"2000 payload types": head + strings.Replace(audio, "SAVPF ", "SAVPF "+strings.Join(pts, " ")+" ", 1),
		"100 KB line":        addToAudio("a=fmtp:111 " + strings.Repeat("x", 100<<10) + "\r\n"),
		"4000 ssrc lines": addToAudio(lines(4000, func(i int) string {
			return fmt.Sprintf("a=ssrc:%d cname:%d", 1000+i, i)
		})),
		"long ice-ufrag":   strings.Replace(base, "a=ice-ufrag:", "a=ice-ufrag:"+strings.Repeat("u", 60<<10), 1),
		"long fingerprint": strings.Replace(base, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256 "+strings.Repeat("AB:", 20<<10), 1),
		"huge port":        strings.Replace(base, "m=audio 9 ", "m=audio 99999999999999999999 ", 1),
		"no lines":         "v=0",
		"binary":           "v=0\r\n\x00\x01\x02\xff\xfe m=audio 9 RTP/AVP 0\r\n",
		// The longest ICE credentials the node lets through.
		"64-byte ice-ufrag": setLine(base, "a=ice-ufrag:", strings.Repeat("u", 64)),
		"256-byte ice-pwd":  setLine(base, "a=ice-pwd:", strings.Repeat("p", 256)),
		// One long field in each line FreeSWITCH reads.
		"long candidate foundation": addToAudio("a=candidate:" + long + " 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"),
		"long candidate address":    addToAudio("a=candidate:1 1 udp 2122260223 " + long + " 50000 typ host\r\n"),
		"long candidate type":       addToAudio("a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ " + long + "\r\n"),
		"long candidate raddr":      addToAudio("a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ srflx raddr " + long + " rport 9\r\n"),
		"candidate of 8000 fields":  addToAudio("a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host" + strings.Repeat(" x y", 4000) + "\r\n"),
		"long mid":                  setLine(base, "a=mid:", long),
		"long setup":                setLine(base, "a=setup:", long),
		"long rtpmap name":          addToAudio("a=rtpmap:111 " + long + "/48000/2\r\n"),
		"long rtcp-fb":              addToAudio("a=rtcp-fb:111 " + long + "\r\n"),
		"long extmap":               addToAudio("a=extmap:1 " + long + "\r\n"),
		"long msid":                 addToAudio("a=msid:" + long + " " + long + "\r\n"),
		"long ssrc cname":           addToAudio("a=ssrc:1 cname:" + long + "\r\n"),
		"long crypto":               addToAudio("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + long + "\r\n"),
		"long ice-options":          addToAudio("a=ice-options:" + long + "\r\n"),
		"long ptime":                addToAudio("a=ptime:" + strings.Repeat("9", 8<<10) + "\r\n"),
		"long group":                setLine(base, "a=group:", "BUNDLE "+long),
		"long connection address":   setLine(base, "c=", "IN IP4 "+long),
		"long origin":               setLine(base, "o=", long+" 1 2 IN IP4 "+long),
		"long session name":         setLine(base, "s=", long),
	}
}

// setLine gives every line of sdp that starts with prefix the value v.
func setLine(sdp, prefix, v string) string {
	lines := strings.Split(sdp, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = prefix + v
		}
	}
	return strings.Join(lines, "\r\n")
}

// hostilePeer is user 1001's peer on an XCtrl of its own: a hostile test's
// offers come faster than a user's invite rate lets them by default. It
// also returns an offer (SDP) the peer gathered, to send as it is or
// spoiled.
func hostilePeer(t *testing.T, f *fsEnv) (*peer, string) {
	t.Helper()
	x := startXCtrlWith(t, f, nil, func(c *ctrl.Config) { c.Limits.InviteBurstPerUser = 100 })
	waitNode(t, x, "")
	p := dialPeer(t, x.WSURL(), "1001")
	base := p.newCall(newID())
	offer, err := base.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, base.gathered(func() error { return base.pc.SetLocalDescription(offer) })
}

// inviteOutcome sends a verto.invite to the echo (9196) and says how it
// ended: "refused" (an error), or the first verto.answer, verto.media or
// verto.bye (with its cause) of the call, or "no answer, no bye" after
// 10 s.
func inviteOutcome(p *peer, sdp string, dialog map[string]any) (string, *rpcMsg) {
	id := newID()
	dialog["callID"], dialog["destination_number"] = id, "9196"
	r := p.request("verto.invite", map[string]any{"sdp": sdp, "dialogParams": dialog})
	if r.Error != nil {
		return "refused", r
	}
	// The offer is negotiated after CALL CREATED: wait for the call's
	// answer or its end.
	outcome := "no answer, no bye"
	p.wait(10*time.Second, func() bool {
		for _, m := range p.reqs {
			if m.callID() == id && (m.Method == "verto.answer" || m.Method == "verto.media" || m.Method == "verto.bye") {
				outcome = m.Method + " " + m.param("cause")
				return true
			}
		}
		return false
	})
	return outcome, r
}

// mustBeUp fails the test when FreeSWITCH does not answer "status" UP.
func mustBeUp(t *testing.T, f *fsEnv, after string) {
	t.Helper()
	if out, err := f.cli("status"); err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("FreeSWITCH after %s: %v\n%s", after, err, out)
	}
}

// testHostileSDP: each oversized or malformed offer gets an answer (an
// error, or a call that FreeSWITCH answers or ends), FreeSWITCH stays up,
// and a normal call works after them all. The node hands the offer to
// FreeSWITCH as mod_verto does, but for ICE credentials longer than an ICE
// agent sends (which FreeSWITCH does not bear); this checks that
// FreeSWITCH's SDP code, not a parser of ours, bears the rest of what one
// client can send.
func testHostileSDP(t *testing.T, f *fsEnv) {
	p, sdp := hostilePeer(t, f)
	defer p.close()
	defer hangupAll(t, f)
	for name, bad := range hostileSDPs(sdp) {
		start := time.Now()
		outcome, r := inviteOutcome(p, bad, map[string]any{"caller_id_number": "1001"})
		t.Logf("%s (%d bytes): %s in %v (error %+v)", name, len(bad), outcome, time.Since(start).Round(time.Millisecond), r.Error)
		// The one FreeSWITCH does not bear: its STUN requests carry the
		// ufrag in a 256-byte buffer (switch_rtp.c, ice_out), and a 60 KB
		// one crashed it (SIGSEGV in ice_out, its stack overwritten with
		// the ufrag). The node refuses it.
		if name == "long ice-ufrag" && outcome != "refused" {
			t.Errorf("%s reached FreeSWITCH: %s", name, outcome)
		}
		if outcome == "no answer, no bye" {
			t.Errorf("%s: the call hangs (neither answered nor ended in 10 s)", name)
		}
		mustBeUp(t, f, fmt.Sprintf("%q", name))
		hangupAll(t, f)
	}
	p.call("9196")
}

// testCallsPerUser: an XCtrl with --max-calls-per-user 2 refuses a user's
// third call before FreeSWITCH sees it (a client that keeps its media going
// would otherwise hold FreeSWITCH's sessions for ever, a few more each
// second); a call the user hangs up and a call FreeSWITCH ends each give
// their place back.
func testCallsPerUser(t *testing.T, f *fsEnv) {
	x := startXCtrlWith(t, f, nil, func(c *ctrl.Config) { c.Limits.MaxCallsPerUser = 2 })
	waitNode(t, x, "")
	p := dialPeer(t, x.WSURL(), "1003")
	defer p.close()
	defer hangupAll(t, f)
	channels := func() string { return strings.TrimSpace(f.mustCLI("show channels count")) }
	refused := func() {
		t.Helper()
		id := newID()
		r := p.request("verto.invite", map[string]any{
			"sdp":          "v=0\r\n",
			"dialogParams": map[string]any{"callID": id, "destination_number": "9196", "caller_id_number": "1003"},
		})
		if r.Error == nil || r.Error.Message != verto.MsgTooManyCalls {
			t.Fatalf("a third call: %+v %s", r.Error, r.Result)
		}
		// FreeSWITCH's channel list (its core database) catches up
		// within a moment.
		deadline := time.Now().Add(5 * time.Second)
		for got := channels(); !strings.Contains(got, "2 total."); got = channels() {
			if time.Now().After(deadline) {
				t.Fatalf("FreeSWITCH holds %q, want the 2 calls", got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	a, b := p.call("9196"), p.call("9196")
	refused()
	a.bye()
	p.call("9196")
	refused()
	// FreeSWITCH ends one: its verto.bye gives the place back.
	f.mustCLI("uuid_kill " + b.id)
	b.waitBye(10 * time.Second)
	p.call("9196")
	refused()
}

// testHostileParams: what a client says of its call, at sizes no browser
// sends, reaches FreeSWITCH through the node (caller id, the far end's
// name, userVariables as channel variables; DTMF, text and chat on an
// answered call): each gets an answer and FreeSWITCH stays up; what is past
// verto's bounds (parties, userVariables, dtmf) is refused with -32602.
func testHostileParams(t *testing.T, f *fsEnv) {
	p, sdp := hostilePeer(t, f)
	defer p.close()
	defer hangupAll(t, f)
	long := strings.Repeat("x", 8<<10)
	vars := map[string]any{}
	for i := range 20 {
		vars[fmt.Sprintf("v%d_%s", i, long[:100])] = long
	}
	for _, tc := range []struct {
		name    string
		dialog  map[string]any
		refused string // what a -32602 must name; "": any outcome but a hang
	}{
		// The parties' names and numbers become the caller profile and go
		// on to the call's other legs (verto.MaxPartyLen).
		{"long caller id", map[string]any{"caller_id_name": long, "caller_id_number": long}, "caller_id_"},
		{"long far-end id", map[string]any{"remote_caller_id_name": long, "remote_caller_id_number": long}, "remote_caller_id_"},
		{"a line break in the caller's name", map[string]any{"caller_id_name": "Alice\r\nX-Injected: yes"}, "caller_id_name"},
		// Every channel event carries every channel variable
		// (verto.MaxUserVariablesBytes).
		{"20 long userVariables", map[string]any{"userVariables": vars}, "userVariables"},
		{"long login", map[string]any{"login": long + "@example.com"}, ""},
	} {
		outcome, r := inviteOutcome(p, sdp, tc.dialog)
		t.Logf("%s: %s (error %+v)", tc.name, outcome, r.Error)
		switch {
		case tc.refused != "" && (r.Error == nil || r.Error.Code != verto.CodeInvalidParams || !strings.Contains(r.Error.Message, tc.refused)):
			t.Errorf("%s: %s (error %+v), want -32602 naming %s", tc.name, outcome, r.Error, tc.refused)
		case outcome == "no answer, no bye":
			t.Errorf("%s: the call hangs", tc.name)
		}
		mustBeUp(t, f, tc.name)
		hangupAll(t, f)
	}
	// On an answered call with media.
	c := p.call("9196")
	huge := strings.Repeat("1234567890*#", 5<<10)
	// FreeSWITCH logs a line for each digit a channel receives (RECV
	// DTMF, at INFO, which the stock logfile keeps): 60 KB of DTMF in one
	// message put 45,459 lines in freeswitch.log before the next request
	// was answered, and a client may send a megabyte a second.
	logged := len(f.grepLog("RECV DTMF"))
	r := p.request("verto.info", map[string]any{"dtmf": huge, "dialogParams": map[string]any{"callID": c.id}})
	mustBeUp(t, f, "60 KB of DTMF")
	if r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
		t.Errorf("60 KB of DTMF: %+v, want -32602", r.Error)
	}
	if n := len(f.grepLog("RECV DTMF")) - logged; n > verto.MaxDTMFLen {
		t.Errorf("60 KB of DTMF: FreeSWITCH logged %d RECV DTMF lines", n)
	}
	if r := p.request("verto.info", map[string]any{"dtmf": "1234#", "dialogParams": map[string]any{"callID": c.id}}); r.Error != nil {
		t.Errorf("a PIN of DTMF: %+v", r.Error)
	}
	// Each userVariable becomes a channel variable, which FreeSWITCH sets
	// in time that grows with those the channel has: verto.info with
	// 8,000 took 0.18 s of the switch, the fourth of them 0.74 s, and a
	// client may send six a second. A call holds at most
	// verto.MaxUserVariables.
	many := map[string]any{}
	for i := range 8000 {
		many[fmt.Sprint("v", i)] = "x"
	}
	for i := range 4 {
		r := p.request("verto.info", map[string]any{"type": "mediaSettings", "dialogParams": map[string]any{"callID": c.id, "userVariables": many}})
		if r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
			t.Errorf("verto.info %d with 8,000 userVariables: %+v, want -32602", i, r.Error)
		}
	}
	some := map[string]any{}
	for i := range verto.MaxUserVariables {
		some[fmt.Sprint("v", i)] = "x"
	}
	if r := p.request("verto.info", map[string]any{"type": "mediaSettings", "dialogParams": map[string]any{"callID": c.id, "userVariables": some}}); r.Error != nil {
		t.Errorf("verto.info with %d userVariables: %+v", verto.MaxUserVariables, r.Error)
	}
	if out, err := f.cli("uuid_getvar " + c.id + " verto_dvar_v99"); err != nil || !strings.Contains(out, "x") {
		t.Errorf("verto_dvar_v99 on the channel: %q %v", out, err)
	}
	// And they hold at most verto.MaxUserVariablesBytes, however many
	// messages bring them: one value of 10 KB is taken, a second is
	// refused by the node (XCtrl sees each message alone).
	tenK := strings.Repeat("y", 10<<10)
	for i, want := range []bool{true, false} {
		r := p.request("verto.info", map[string]any{"type": "mediaSettings",
			"dialogParams": map[string]any{"callID": c.id, "userVariables": map[string]any{fmt.Sprint("v", i): tenK}}})
		if ok := r.Error == nil; ok != want || !ok && r.Error.Code != verto.CodeInvalidParams {
			t.Errorf("verto.info %d with a 10 KB userVariable: %+v, want ok=%v", i, r.Error, want)
		}
	}
	for name, want := range map[string]int{"verto_dvar_v0": len(tenK), "verto_dvar_v1": 1} {
		if out, err := f.cli("uuid_getvar " + c.id + " " + name); err != nil || len(strings.TrimSpace(out)) != want {
			t.Errorf("%s on the channel: %d bytes %v, want %d", name, len(strings.TrimSpace(out)), err, want)
		}
	}
	for name, params := range map[string]map[string]any{
		"60 KB of text":        {"txt": map[string]any{"code": 65, "chars": huge}},
		"60 KB chat":           {"msg": map[string]any{"to": "1000", "body": huge}},
		"DTMF of 30,000 parts": {"dtmf": strings.Repeat("1+", 30000)},
	} {
		params["dialogParams"] = map[string]any{"callID": c.id}
		r := p.request("verto.info", params)
		t.Logf("%s: error %+v", name, r.Error)
		mustBeUp(t, f, name)
	}
	// A chat's addresses may go on in a SIP MESSAGE: the node refuses
	// long ones and line breaks before the switch sees them.
	for name, msg := range map[string]map[string]any{
		"chat to an 8 KB user":          {"to": long + "@" + long, "from": long, "body": "hi"},
		"chat to a line break":          {"to": "1000@" + testDomain + "\r\nX-Injected: yes", "body": "hi"},
		"chat with a header line break": {"to": "1000@" + testDomain, "from_display": "A\r\nX-Injected: yes", "body": "hi"},
	} {
		r := p.request("verto.info", map[string]any{"msg": msg, "dialogParams": map[string]any{"callID": c.id}})
		if r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
			t.Errorf("%s: %+v, want -32602", name, r.Error)
		}
		mustBeUp(t, f, name)
	}
	c.bye()
}

// testHoldFlood: FreeSWITCH takes about 250 ms for each hold or unhold, and
// a call's requests run one at a time: 90 sent at once from one socket
// (within its burst) queued 16 s of work on the node, so that 26 of them
// timed out at XCtrl and still ran, and the call's next request waited
// 6.4 s behind them. The node keeps at most 32 waiting (8 s of holds) and
// refuses the rest at once (here: 57 refused, 33 done in 8 s, none timed
// out, the next request answered in 250 ms).
func testHoldFlood(t *testing.T, f *fsEnv) {
	p, _ := hostilePeer(t, f)
	defer p.close()
	defer hangupAll(t, f)
	c := p.call("9196")
	const n, first = 90, 10000
	start := time.Now()
	for i := 0; i < n; i++ {
		action := "hold"
		if i%2 == 1 {
			action = "unhold"
		}
		p.send(map[string]any{"jsonrpc": "2.0", "id": first + i, "method": "verto.modify",
			"params": map[string]any{"sessid": p.sessid, "action": action, "dialogParams": map[string]any{"callID": c.id}}})
	}
	p.wait(40*time.Second, func() bool {
		for i := 0; i < n; i++ {
			if p.replies[first+i] == nil {
				return false
			}
		}
		return true
	})
	counts := map[string]int{}
	p.mu.Lock()
	for i := 0; i < n; i++ {
		switch r := p.replies[first+i]; {
		case r == nil:
			counts["no reply"]++
		case r.Error != nil:
			counts[r.Error.Message]++
		default:
			counts["ok"]++
		}
	}
	p.mu.Unlock()
	t.Logf("%d holds and unholds at once: %v in %v", n, counts, time.Since(start).Round(time.Millisecond))
	// One runs, 32 wait, the rest are refused as they come (the 90 reach
	// the node within milliseconds; each hold takes 250 ms).
	if counts[verto.MsgRateLimited] < n-1-32 || counts["ok"] == 0 {
		t.Errorf("%d holds and unholds: %v; want at most 33 taken, the rest refused at once", n, counts)
	}
	if r := p.request("verto.modify", map[string]any{"action": "unhold", "dialogParams": map[string]any{"callID": c.id}}); r.Error != nil {
		t.Errorf("unhold after the flood: %+v", r.Error)
	}
	mustBeUp(t, f, "a hold flood")
}
