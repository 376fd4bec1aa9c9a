package xrtc_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"xccrtc/conf"
	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// lookupHost is the fake host with a directory: one user, 1000@xswitch.cn,
// password 1234, and an error for "broken".
type lookupHost struct {
	xrtc.Host
	mu   sync.Mutex
	last xrtc.UserQuery
}

func (h *lookupHost) LookupUser(_ context.Context, q xrtc.UserQuery) (*conf.User, error) {
	h.mu.Lock()
	h.last = q
	h.mu.Unlock()
	switch {
	case q.ID == "broken":
		return nil, errors.New("directory backend down")
	case q.ID == "1000" && q.Domain == "xswitch.cn":
		return &conf.User{ID: "1000", Domain: "xswitch.cn", Group: "default",
			Params: []conf.Pair{{Name: "password", Value: "1234"}, {Name: "vm-password", Value: "9"},
				{Name: "jsonrpc-allowed-methods", Value: "verto"}},
			Variables: map[string]string{"user_context": "default"}}, nil
	}
	return nil, nil
}

func TestLookupUser(t *testing.T) {
	lh := &lookupHost{}
	e := newEnv(t, func(o *xrtc.Options) { lh.Host = o.Host; o.Host = lh })
	ask := func(p map[string]any) *verto.Message {
		p["ctrl_uuid"] = ctrlUUID
		return e.ctrl.Send(t, e.ep.AnyNodeSubject(), verto.MethodXrtcLookupUser, p)
	}
	verdict := func(m *verto.Message) verto.LookupUserResult {
		t.Helper()
		var r verto.LookupUserResult
		if err := m.DecodeResult(&r); err != nil {
			t.Fatalf("result: %v (%+v)", err, m.Error)
		}
		return r
	}
	r := verdict(ask(map[string]any{"id": "1000", "domain": "xswitch.cn", "a1": conf.A1Hash("1000", "xswitch.cn", "1234"),
		"login_params": map[string]string{"tenant": "t1"}}))
	if r.Verdict != verto.LookupOK || r.NodeUUID != nodeUUID || r.User == nil || r.User.Group != "default" ||
		r.User.Variables["user_context"] != "default" {
		t.Fatalf("ok: %+v", r)
	}
	if len(r.User.Params) != 1 || r.User.Params[0].Name != "jsonrpc-allowed-methods" {
		t.Fatalf("credentials must not travel: %+v", r.User.Params)
	}
	lh.mu.Lock()
	q := lh.last
	lh.mu.Unlock()
	if len(q.Params) != 2 || q.Params[0] != (conf.Pair{Name: "tenant", Value: "t1"}) || q.Params[1] != (conf.Pair{Name: "action", Value: "jsonrpc-authenticate"}) {
		t.Fatalf("request params %+v", q.Params)
	}
	if r := verdict(ask(map[string]any{"id": "1000", "domain": "xswitch.cn", "a1": conf.A1Hash("1000", "xswitch.cn", "nope")})); r.Verdict != verto.LookupBadPassword || r.User != nil {
		t.Fatalf("bad password: %+v", r)
	}
	if r := verdict(ask(map[string]any{"id": "1000", "domain": "xswitch.cn"})); r.Verdict != verto.LookupOK {
		t.Fatalf("lookup without password: %+v", r)
	}
	if r := verdict(ask(map[string]any{"id": "2000", "domain": "xswitch.cn", "a1": "x"})); r.Verdict != verto.LookupNotFound {
		t.Fatalf("unknown: %+v", r)
	}
	if m := ask(map[string]any{"id": "broken", "domain": "xswitch.cn"}); m.Error == nil || m.Error.Code != verto.CodeSessionError {
		t.Fatalf("backend error: %+v", m)
	}
	if m := ask(map[string]any{"domain": "xswitch.cn"}); m.Error == nil || m.Error.Code != verto.CodeInvalidParams {
		t.Fatalf("no id: %+v", m)
	}
}

func TestLookupUserUnsupported(t *testing.T) {
	e := newEnv(t)
	m := e.ctrl.Send(t, e.node, verto.MethodXrtcLookupUser, map[string]any{"id": "1000", "domain": "xswitch.cn"})
	if m.Error == nil || m.Error.Code != verto.CodeMethodNotFound || m.Error.Message != verto.MsgLookupUnsupported {
		t.Fatalf("%+v", m)
	}
}
