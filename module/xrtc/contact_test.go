package xrtc_test

import (
	"context"
	"testing"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// contacts serves xrtc.contact on subject with socks for every login, and
// records the logins asked.
func contacts(t *testing.T, e *env, subject string, socks ...verto.Contact) <-chan string {
	asked := make(chan string, 16)
	e.ctrl.Serve(t, subject, verto.CtrlQueue, func(m *verto.Message) *verto.Message {
		if m.Method != verto.MethodXrtcContact {
			return nil
		}
		var p verto.ContactParams
		_ = m.DecodeParams(&p)
		asked <- p.Login
		r, _ := verto.NewResult(m.ID, verto.ContactResult{Login: p.Login, Sockets: append([]verto.Contact{}, socks...), CtrlUUID: ctrlUUID})
		return r
	})
	return asked
}

// xrtc_contact is mod_verto's verto_contact: a per-socket dial string for
// every socket XCtrl knows of, error/user_not_registered for none, and a
// cause-named error dial string when it cannot be answered.
func TestContactDialString(t *testing.T) {
	e := newEnv(t)
	// Nobody answers on the bus yet.
	if got := e.ep.ContactDialString("1000@xswitch.cn"); got != "error/no_user_response" {
		t.Errorf("no XCtrl: %q", got)
	}
	asked := contacts(t, e, "cn.xswitch.ctrl.rtc",
		verto.Contact{Sessid: "6d1f-a", CtrlUUID: ctrlUUID}, verto.Contact{Sessid: "bad,sessid", CtrlUUID: ctrlUUID},
		verto.Contact{Sessid: "6d1f-b", CtrlUUID: "ctrl-2"})
	customAsked := contacts(t, e, "cn.xswitch.ctrl.custom")

	for _, tc := range []struct{ target, want, login string }{
		{"1000@xswitch.cn", "xrtc/u:6d1f-a,xrtc/u:6d1f-b", "1000@xswitch.cn"},
		{" 1000 ", "xrtc/u:6d1f-a,xrtc/u:6d1f-b", "1000@xswitch.cn"},                // the switch's domain
		{"default/1000@d", "xrtc/default/u:6d1f-a,xrtc/default/u:6d1f-b", "1000@d"}, // the profile is kept
		{"custom/1001", verto.NotRegisteredDialString, "1001@custom.example"},       // its subject, its domain
	} {
		if got := e.ep.ContactDialString(tc.target); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.target, got, tc.want)
		}
		ch := asked
		if tc.login == "1001@custom.example" {
			ch = customAsked
		}
		if login := <-ch; login != tc.login {
			t.Errorf("%q asked for %q, want %q", tc.target, login, tc.login)
		}
	}
	for target, want := range map[string]string{
		"":                   "error/invalid_number_format",
		"10 00@d":            "error/invalid_number_format",
		"u:6d1f-a":           "error/invalid_number_format", // a socket is no user to look up
		"1000@d;ctrl_uuid=c": "error/invalid_number_format",
		"nosuch/1000@d":      "error/channel_unacceptable",
	} {
		if got := e.ep.ContactDialString(target); got != want {
			t.Errorf("%q: %q, want %q", target, got, want)
		}
	}
}

// A per-socket dial string (xrtc/u:<sessid>, what xrtc_contact returns) is
// one leg to one socket: the invite carries the sessid, the leg is named
// after it, and a dial through the directory (user/1000) keeps the user it
// dialed as mod_verto does.
func TestOriginateOneSocket(t *testing.T) {
	e := newEnv(t)
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID)
	ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{
		Target: "u:6d1f-a",
		Vars:   map[string]string{"dialed_user": "1000", "dialed_domain": "xswitch.cn"},
		Caller: xrtc.CallerProfile{CallerIDName: "Bob", CallerIDNumber: "2000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fch := e.host.NextChannel(t)
	o := fch.Outbound
	if o.Name != "xrtc/u:6d1f-a" || o.Route.Sessid != "6d1f-a" || o.Vars["verto_orig_dest"] != "1000@xswitch.cn" ||
		o.Vars["origination_callee_id_number"] != "1000" || o.Caller.CalleeIDNumber != "1000" || o.Caller.DestinationNumber != "u:6d1f-a" {
		t.Fatalf("outbound spec %+v, vars %v", o, o.Vars)
	}
	inv := nextInvite(t, invites)
	if inv.CallID != ch.UUID() || inv.Sessid != "6d1f-a" || inv.Login != "1000@xswitch.cn" || inv.SDP == "" {
		t.Fatalf("invite %+v", inv)
	}
	fch.Expect(t, "offer")
	fch.Expect(t, "ringing")
	rep := e.ctrl.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": "6d1f-a", "sdp": goodSDP,
		"xrtc_user": user(), "dialogParams": map[string]any{"callID": ch.UUID()}})
	if r := rep.Error; r != nil {
		t.Fatalf("answer: %+v", r)
	}
	fch.Expect(t, "remote-answer")
	fch.Expect(t, "vars")
	fch.Expect(t, "answered")

	// Without the directory: the socket is all there is.
	ch2, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "custom/u:6d1f-b"})
	if err != nil {
		t.Fatal(err)
	}
	fch = e.host.NextChannel(t)
	if fch.UUID() != ch2.UUID() || fch.Outbound.Vars["verto_orig_dest"] != "" || fch.Outbound.Route.Subject != "cn.xswitch.ctrl.custom" {
		t.Fatalf("outbound %+v", fch.Outbound)
	}
	if _, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "u:"}); xrtc.CauseOf(err) != verto.CauseInvalidNumberFormat {
		t.Fatalf("empty sessid: %v", err)
	}
}
