//go:build freeswitch

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// testAPIExpansion: FreeSWITCH expands ${...} in an application's data when
// it runs it, and expands a variable's value again, API calls included
// (api-expansion is on in the stock switch.conf.xml): a client string that
// reaches the switch where it is expanded runs any API, `system` among
// them. Found by trying: a verto.modify transfer to ${system(touch F)} made
// F on the switch's host, through the stock dialplan's global extension
// (its hash application's data holds ${destination_number}), on mod_verto
// as here. Every client string
// that can reach such a place is tried here with ${system(touch F)}: none
// may run, each refused with -32602 or made harmless by the switch (it
// cleans the caller profile, and refuses a channel variable holding ${).
func testAPIExpansion(t *testing.T, f *fsEnv) {
	p, sdp := hostilePeer(t, f)
	defer p.close()
	defer hangupAll(t, f)
	dir := t.TempDir()
	n := 0
	// api returns ${system(touch <a new file>)} and the file's path.
	api := func() (string, string) {
		n++
		mark := filepath.Join(dir, "ran-"+strings.Repeat("x", n))
		return "${system(touch " + mark + ")}", mark
	}
	// ran waits 2 s for mark (a chat plan runs on a thread of its own).
	ran := func(name, mark string, r *rpcMsg) {
		t.Helper()
		refused := r != nil && r.Error != nil && r.Error.Code == verto.CodeInvalidParams
		if r != nil && r.Error != nil {
			t.Logf("%s: %d %s", name, r.Error.Code, r.Error.Message)
		}
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if _, err := os.Stat(mark); err == nil {
				t.Errorf("%s: the API call ran on the switch's host (refused: %v)", name, refused)
				break
			}
		}
		mustBeUp(t, f, name)
	}

	// A transfer of the call's bridged partner (a loopback leg).
	c := p.call("xrtc-loopback")
	x, mark := api()
	ran("a transfer's destination", mark, p.request("verto.modify", map[string]any{"action": "transfer", "destination": x,
		"dialogParams": map[string]any{"callID": c.id}}))
	hangupAll(t, f)

	// An invite's dialplan input and parties.
	for _, k := range []string{"destination_number", "caller_id_name", "caller_id_number", "remote_caller_id_name", "rdnis"} {
		x, mark := api()
		dialog := map[string]any{"callID": newID(), "destination_number": "9196", k: x}
		ran("an invite's "+k, mark, p.request("verto.invite", map[string]any{"sdp": sdp, "dialogParams": dialog}))
		hangupAll(t, f)
	}
	x, mark = api()
	ran("an invite's userVariable", mark, p.request("verto.invite", map[string]any{"sdp": sdp,
		"dialogParams": map[string]any{"callID": newID(), "destination_number": "9196", "userVariables": map[string]any{"v": x}}}))
	hangupAll(t, f)

	// An SDP holding one: the switch keeps it in a channel variable, and
	// refuses to set one it would expand, with a CRIT line in its log.
	crit := len(f.grepLog("contains a variable"))
	r := p.request("verto.invite", map[string]any{"sdp": sdp + "a=x-note:${x}\r\n",
		"dialogParams": map[string]any{"callID": newID(), "destination_number": "9196"}})
	t.Logf("an SDP holding ${x}: %+v", r.Error)
	time.Sleep(500 * time.Millisecond)
	if n := len(f.grepLog("contains a variable")) - crit; n > 0 {
		t.Errorf("an SDP holding ${x} put %d CRIT lines in freeswitch.log", n)
	}
	hangupAll(t, f)

	// A chat, through the stock chat plan: mod_sms runs it, left out of
	// the stock modules.conf.xml and loaded here as an operator would.
	// Its reply holds ${body}, which is empty for a client's chat (the
	// text is the event's body, ${_body}); a chat plan that puts
	// ${_body} in an application's data would have FreeSWITCH expand the
	// text again, API calls included, so the node refuses a body holding
	// a variable reference.
	if out, _ := f.cli("load mod_sms"); !strings.Contains(out, "+OK") && !strings.Contains(out, "already loaded") {
		t.Fatalf("load mod_sms: %s", out)
	}
	to := "1000@" + testDomain
	for name, msg := range map[string]func(x string) map[string]any{
		"a chat's body":   func(x string) map[string]any { return map[string]any{"to": to, "body": x} },
		"a chat's to":     func(x string) map[string]any { return map[string]any{"to": x + "@" + testDomain, "body": "hi"} },
		"a chat's header": func(x string) map[string]any { return map[string]any{"to": to, "body": "hi", "from_display": x} },
	} {
		x, mark := api()
		r := p.request("verto.info", map[string]any{"msg": msg(x)})
		ran(name, mark, r)
		if r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
			t.Errorf("%s: %+v, want -32602", name, r.Error)
		}
	}

	// On an answered call: userVariables and a chat in the dialog.
	c = p.call("9196")
	x, mark = api()
	ran("a verto.info's userVariable", mark, p.request("verto.info", map[string]any{"type": "mediaSettings",
		"dialogParams": map[string]any{"callID": c.id, "userVariables": map[string]any{"w": x}}}))
	// FreeSWITCH refuses to set a channel variable whose value holds one,
	// with a CRIT line in its log for each: 90 of them in every verto.info,
	// at a socket's message rate, would flood the log. The node leaves
	// them out (as mod_verto leaves out ${...}), $\{...} too.
	crit = len(f.grepLog("contains a variable"))
	vars := map[string]any{}
	for i := range 90 {
		vars[fmt.Sprint("v", i)] = `$\{x}`
	}
	if r := p.request("verto.info", map[string]any{"type": "mediaSettings",
		"dialogParams": map[string]any{"callID": c.id, "userVariables": vars}}); r.Error != nil {
		t.Errorf("90 userVariables holding $\\{x}: %+v", r.Error)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(f.grepLog("contains a variable")) - crit; n > 0 {
		t.Errorf("90 userVariables holding $\\{x} put %d CRIT lines in freeswitch.log", n)
	}
	x, mark = api()
	ran("a chat in the call", mark, p.request("verto.info", map[string]any{"msg": map[string]any{"to": to, "body": x, "inDialog": true},
		"dialogParams": map[string]any{"callID": c.id}}))
	c.bye()
}

// testModeratorExpansion: mod_conference runs a moderator's commands from
// its mod channel, and some expand their arguments (vid-banner's text,
// play's file) or transfer a member (transfer: the destination, which the
// stock dialplan expands). In the stock dialplan anyone who dials
// 6070-moderator is a moderator of that conference. A moderator's command
// holding ${system(touch F)} must not run it: the node refuses a broadcast
// to a conference's mod channel with a variable reference in its data.
func testModeratorExpansion(t *testing.T, f *fsEnv, x *ctrl.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	defer hangupAll(t, f)
	c := dial(t, x, "1000")
	call, err := c.Call(ctx, "6070-moderator", client.CallOptions{Audio: client.Tone(600)})
	if err != nil {
		t.Fatalf("call 6070-moderator: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	cf, err := call.WaitConference(ctx)
	if err != nil {
		t.Fatalf("no conference join event: %v", err)
	}
	info := cf.Info()
	if info.ModChannel == "" {
		t.Fatalf("not a moderator: %+v", info)
	}
	// A command without one works.
	if err := cf.Moderate(ctx, "vid-banner", info.MemberID, "Hello"); err != nil {
		t.Errorf("vid-banner Hello: %v", err)
	}
	dir := t.TempDir()
	for i, cmd := range []struct {
		command string
		value   func(x string) any
	}{
		{"vid-banner", func(x string) any { return x }},
		{"play", func(x string) any { return x }},
		{"transfer", func(x string) any { return []string{x, "XML", "default"} }}, // last: the member leaves
	} {
		mark := filepath.Join(dir, fmt.Sprint("ran-", i))
		before := badMessages(t, f)
		err := cf.Moderate(ctx, cmd.command, info.MemberID, cmd.value("${system(touch "+mark+")}"))
		t.Logf("%s: %v", cmd.command, err)
		time.Sleep(time.Second)
		if _, err := os.Stat(mark); err == nil {
			t.Errorf("a moderator's %s ran the API call on the switch's host", cmd.command)
		}
		if badMessages(t, f) != before+1 {
			t.Errorf("a moderator's %s with ${system(...)} was not refused by the node", cmd.command)
		}
		mustBeUp(t, f, cmd.command)
	}
}

// badMessages is what `xrtc status` counts as bad messages (refused input).
func badMessages(t *testing.T, f *fsEnv) int {
	t.Helper()
	out := f.mustCLI("xrtc status")
	_, rest, ok := strings.Cut(out, " received, ")
	var n int
	if _, err := fmt.Sscanf(rest, "%d bad", &n); !ok || err != nil {
		t.Fatalf("xrtc status: no count of bad messages in %q", out)
	}
	return n
}
