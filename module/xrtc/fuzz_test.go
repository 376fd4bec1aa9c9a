package xrtc_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

var fuzzEP struct {
	once   sync.Once
	ep     *xrtc.Endpoint
	bus    *xrtctest.Bus
	panics atomic.Int64
}

// FuzzHandleMessage: whatever arrives on the node subject, the endpoint does
// not panic, and every message it is meant to answer (anything but client
// acks and mod_xcc's methods) gets a result or an error on the reply subject.
func FuzzHandleMessage(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":"1","method":"verto.invite","params":{"sessid":"s","sdp":"v=0\r\nm=audio 9 RTP 0","dialogParams":{"callID":"c1","destination_number":"9196"}}}`,
		`{"jsonrpc":"2.0","id":"2","method":"verto.bye","params":{"dialogParams":{"callID":"c1"},"cause":"USER_BUSY"}}`,
		`{"jsonrpc":"2.0","id":"3","method":"verto.modify","params":{"dialogParams":{"callID":"c1"},"action":"toggleHold"}}`,
		`{"jsonrpc":"2.0","id":"4","method":"verto.info","params":{"dialogParams":{"callID":"c1"},"dtmf":"1","msg":{"to":"a","body":"b"}}}`,
		`{"jsonrpc":"2.0","id":"5","method":"verto.subscribe","params":{"sessid":"s","eventChannel":["a.b","c"]}}`,
		`{"jsonrpc":"2.0","id":"6","method":"verto.broadcast","params":{"sessid":"s","eventChannel":"a.b","data":{"liveArray":{"command":"bootstrap"}}}}`,
		`{"jsonrpc":"2.0","id":"7","method":"xrtc.login","params":{"sessid":"s","ctrl_uuid":"c"}}`,
		`{"jsonrpc":"2.0","method":"xrtc.detach","params":{"sessid":"s"}}`,
		`{"jsonrpc":"2.0","id":8,"method":"verto.answer","params":{"sdp":"x","dialogParams":{"callID":"c1"},"echoParams":true}}`,
		`{"jsonrpc":"2.0","id":"9","result":{"method":"verto.invite"}}`,
		`{"jsonrpc":"2.0","id":"10","method":"fsapi","params":{"sessid":"s","cmd":"bgapi","arg":"status x","xrtc_user":{"login":"a@b","allowed_fsapi":["bgapi","status"]}}}`,
		`{"jsonrpc":"2.0","id":"11","method":"jsapi","params":{"sessid":"s","command":"fsapi","data":{"cmd":"status"},"xrtc_user":{"login":"a@b","allowed_jsapi":["fsapi"]}}}`,
		`{"jsonrpc":"2.0","id":"12","method":"verto.subscribe","params":{"sessid":"s","eventChannel":["presence.a@b","FSevent"]}}`,
		`{"jsonrpc":"2.0","id":"13","method":"verto.info","params":{"sessid":"s","msg":{"to":"a@b","body":"b","from_x":"y","inDialog":true}}}`,
		`[{"jsonrpc":"2.0"}]`, `{`, `null`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	if files, _ := filepath.Glob("../../testdata/verto/*.json"); len(files) > 0 {
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b)
			}
		}
	}
	fuzzEP.once.Do(func() {
		bus := xrtctest.NewBus()
		host := xrtctest.NewHost()
		host.Silent = true
		ep, err := xrtc.New(xrtc.Options{Config: testConfig(), Host: host, Bus: bus, NodeUUID: nodeUUID, Log: testLog(),
			OfferTimeout: time.Second, OnPanic: func(any) { fuzzEP.panics.Add(1) }})
		if err != nil {
			f.Fatal(err)
		}
		if err := ep.Start(context.Background()); err != nil {
			f.Fatal(err)
		}
		fuzzEP.ep, fuzzEP.bus = ep, bus
	})
	ep, bus := fuzzEP.ep, fuzzEP.bus
	f.Fuzz(func(t *testing.T, data []byte) {
		reply, forget := bus.Call(ep.NodeSubject(), data)
		if expectsReply(data) {
			select {
			case r := <-reply:
				m, err := verto.DecodeMessage(r, verto.Limits{MaxBytes: 16 << 20})
				if err != nil || (m.Result == nil && m.Error == nil) {
					t.Fatalf("reply %q is neither a result nor an error (%v)", r, err)
				}
			case <-time.After(xrtctest.Wait):
				t.Fatalf("no reply to %q", data)
			}
		} else {
			forget()
		}
		if n := fuzzEP.panics.Load(); n > 0 {
			t.Fatalf("%d panics recovered in the endpoint (input %q)", n, data)
		}
	})
}

// expectsReply mirrors the endpoint's rule: undecodable input is answered;
// of decodable messages, requests and notifications of Verto's and xrtc's
// methods are, results and errors (client acks) and other namespaces'
// methods are not.
func expectsReply(data []byte) bool {
	m, err := verto.DecodeMessage(data, verto.Limits{})
	if err != nil {
		return true
	}
	if m.Kind() == verto.KindResult || m.Kind() == verto.KindError {
		return false
	}
	for i := 0; i < len(m.Method); i++ {
		if m.Method[i] == '.' {
			ns := m.Method[:i]
			return ns == "verto" || ns == "xrtc"
		}
	}
	return true
}
