package verto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestIDRoundTrip(t *testing.T) {
	for _, in := range []string{`1`, `349819`, `"7"`, `"c1-1842"`, `-3`} {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(id)
		if string(out) != in {
			t.Errorf("id %s came back as %s", in, out)
		}
	}
	for _, bad := range []string{`{}`, `[1]`, `true`} {
		var id ID
		if err := json.Unmarshal([]byte(bad), &id); err == nil {
			t.Errorf("id %s accepted", bad)
		}
	}
	if n, ok := IntID(42).Int(); !ok || n != 42 {
		t.Errorf("IntID(42).Int() = %d, %v", n, ok)
	}
	if s := StringID("x\"y").String(); s != "x\"y" {
		t.Errorf("StringID round trip = %q", s)
	}
	if !StringID("7").IsString() || IntID(7).IsString() {
		t.Error("IsString wrong")
	}
}

func TestDecodeBadInput(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	huge := `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"s":"` + strings.Repeat("a", 1<<20) + `"}}`
	var batch bytes.Buffer
	batch.WriteByte('[')
	for i := 0; i < 1000; i++ {
		if i > 0 {
			batch.WriteByte(',')
		}
		batch.WriteString(`{"jsonrpc":"2.0","id":1,"method":"verto.ping","params":{}}`)
	}
	batch.WriteByte(']')

	tests := []struct {
		name string
		in   string
		lim  Limits
		err  error
		code int
	}{
		{"not json", `hello`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"truncated", `{"jsonrpc":"2.0","id":1,"method":"login"`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"login"}`, Limits{}, ErrVersion, CodeInvalidRequest},
		{"version missing", `{"id":1,"method":"login"}`, Limits{}, ErrVersion, CodeInvalidRequest},
		{"version number", `{"jsonrpc":2.0,"id":1,"method":"login"}`, Limits{}, ErrVersion, CodeInvalidRequest},
		{"missing method", `{"jsonrpc":"2.0","id":1,"params":{}}`, Limits{}, ErrNoMethod, CodeMethodNotFound},
		{"method not string", `{"jsonrpc":"2.0","id":1,"method":7}`, Limits{}, ErrBadField, CodeInvalidRequest},
		{"params string", `{"jsonrpc":"2.0","id":1,"method":"login","params":"x"}`, Limits{}, ErrBadField, CodeInvalidRequest},
		{"id object", `{"jsonrpc":"2.0","id":{},"method":"login"}`, Limits{}, ErrBadField, CodeInvalidRequest},
		{"error not object", `{"jsonrpc":"2.0","id":1,"error":5}`, Limits{}, ErrBadField, CodeInvalidRequest},
		{"array of numbers is no message", `5`, Limits{}, ErrNotObject, CodeInvalidRequest},
		{"empty batch", `[]`, Limits{}, ErrEmptyBatch, CodeInvalidRequest},
		{"deep nesting", deep, Limits{}, ErrTooDeep, CodeInvalidRequest},
		{"deep nesting in an object", `{"jsonrpc":"2.0","id":1,"method":"x","params":` + deep + `}`, Limits{}, ErrTooDeep, CodeInvalidRequest},
		{"bad number in an object", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":01}}`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"bad literal in an object", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[tru]}}`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"bad escape in an object", `{"jsonrpc":"2.0","id":1,"method":"x\q"}`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"data after the object", `{"jsonrpc":"2.0","id":1,"method":"x"} {}`, Limits{}, ErrNotJSON, CodeInvalidRequest},
		{"1 MiB string", huge, Limits{}, ErrTooLarge, CodeInvalidRequest},
		{"huge batch", batch.String(), Limits{MaxBytes: 1 << 20}, ErrBatchTooLarge, CodeInvalidRequest},
		{"empty", ``, Limits{}, ErrNotJSON, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("not a *DecodeError: %T", err)
			}
			if got := de.RPC().Code; got != tt.code {
				t.Errorf("code = %d, want %d", got, tt.code)
			}
		})
	}
}

func TestDecodeKeepsIDOfBadMessage(t *testing.T) {
	_, err := Decode([]byte(`{"jsonrpc":"1.0","id":42,"method":"login"}`), Limits{})
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	if n, _ := de.ID.Int(); n != 42 {
		t.Errorf("id = %v, want 42", de.ID)
	}
}

func TestDecodeBatchWithBadMember(t *testing.T) {
	in := `[{"jsonrpc":"2.0","id":1,"method":"verto.ping","params":{}}, 7, {"jsonrpc":"2.0","id":3}]`
	f, err := Decode([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Batch || len(f.Msgs) != 1 || len(f.Errs) != 2 {
		t.Fatalf("batch=%v msgs=%d errs=%d", f.Batch, len(f.Msgs), len(f.Errs))
	}
	if f.Errs[0].Index != 1 || f.Errs[1].Index != 2 {
		t.Errorf("indices %d %d", f.Errs[0].Index, f.Errs[1].Index)
	}
	if n, _ := f.Errs[1].ID.Int(); n != 3 {
		t.Errorf("bad member kept id %v", f.Errs[1].ID)
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"login","params":{}}`, KindRequest},
		{`{"jsonrpc":"2.0","method":"Event.NodeUpdate","params":{}}`, KindNotification},
		{`{"jsonrpc":"2.0","id":null,"method":"x"}`, KindNotification},
		{`{"jsonrpc":"2.0","id":"1","result":{}}`, KindResult},
		{`{"jsonrpc":"2.0","id":"1","result":null}`, KindResult},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}`, KindError},
	}
	for _, tt := range tests {
		m, err := DecodeMessage([]byte(tt.in), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if m.Kind() != tt.want {
			t.Errorf("%s: kind %v, want %v", tt.in, m.Kind(), tt.want)
		}
	}
}

func TestMessageMarshalRoundTrip(t *testing.T) {
	in := `{"jsonrpc":"2.0","id":"c1-9","method":"verto.invite","params":{"z":1,"a":{"b":[1,2]},"sdp":"v=0\r\n"}}`
	m, err := DecodeMessage([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
}

func TestErrorExtraFields(t *testing.T) {
	e := ErrCallNotExist.With("callID", "abc")
	b, _ := json.Marshal(e)
	if string(b) != `{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"abc"}` {
		t.Errorf("got %s", b)
	}
	if ErrCallNotExist.Extra != nil {
		t.Error("With changed the shared error")
	}
	var back Error
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var id string
	if !back.Field("callID", &id) || id != "abc" || back.Code != CodeSessionError {
		t.Errorf("back = %+v", back)
	}
	// A null message is an empty one, as encoding/json reads it; a
	// number is no message.
	var n Error
	if err := json.Unmarshal([]byte(`{"code":-32000,"message":null}`), &n); err != nil || n.Message != "" {
		t.Errorf("null message: %v, %+v", err, n)
	}
	if err := json.Unmarshal([]byte(`{"code":-32000,"message":5}`), &n); err == nil {
		t.Error("a number taken as the message")
	}
	// mod_verto's quirk, an error object without a code, gets one on
	// the wire: JSON-RPC requires it.
	var q Error
	if err := json.Unmarshal([]byte(`{"unauthorizedChannels":["a"]}`), &q); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(&q)
	if string(b) != `{"code":-32602,"message":"","unauthorizedChannels":["a"]}` {
		t.Errorf("quirk came back as %s", b)
	}
}

func TestObjectKeepsUnknownParams(t *testing.T) {
	in := `{"sessid":"s","newField":{"x":[1,{"y":null}]},"dialogParams":{"callID":"c","future":true},"n":1.5e3}`
	out, err := EditParams(json.RawMessage(in), func(o *Object) {
		o.Set(KeyNodeUUID, "n1")
		o.Set(KeyCtrlUUID, "c1")
		o.Delete("n")
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sessid":"s","newField":{"x":[1,{"y":null}]},"dialogParams":{"callID":"c","future":true},"node_uuid":"n1","ctrl_uuid":"c1"}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	var p CallParams
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	if p.CallID() != "c" || p.NodeUUID != "n1" {
		t.Errorf("typed view %+v", p)
	}
}

func TestObjectRejectsBadInput(t *testing.T) {
	for _, in := range []string{``, `[]`, `{`, `{"a"}`, `{"a":1,}`, `{"a":1}x`, `{1:2}`, `"s"`} {
		if _, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("ParseObject(%q) accepted", in)
		}
	}
	o, err := ParseObject([]byte(` { "a\u0041" : [1, "]"] , "b":{} } `))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Has("aA") || string(mustRaw(t, o, "b")) != "{}" {
		t.Errorf("keys %v", o.Keys())
	}
}

func mustRaw(t *testing.T, o *Object, k string) json.RawMessage {
	t.Helper()
	r, ok := o.Raw(k)
	if !ok {
		t.Fatalf("no key %q", k)
	}
	return r
}

func TestFlexAndChannels(t *testing.T) {
	var p struct {
		A Flex     `json:"a"`
		B Flex     `json:"b"`
		C Channels `json:"c"`
		D Channels `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"a":16,"b":"17","c":"x","d":["y","z"]}`), &p); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.A.Int(); n != 16 {
		t.Errorf("a=%v", p.A)
	}
	if n, _ := p.B.Int(); n != 17 {
		t.Errorf("b=%v", p.B)
	}
	if len(p.C) != 1 || p.C[0] != "x" || len(p.D) != 2 {
		t.Errorf("channels %v %v", p.C, p.D)
	}
	if err := json.Unmarshal([]byte(`{"c":5}`), &p); err == nil {
		t.Error("eventChannel 5 accepted")
	}
}

func TestCauses(t *testing.T) {
	tests := []struct {
		in   string
		want Cause
		ok   bool
	}{
		{"NORMAL_CLEARING", CauseNormalClearing, true},
		{"16", CauseNormalClearing, true},
		{"MEDIA_TIMEOUT", CauseMediaTimeout, true},
		{"806", CauseUserNotRegistered, true},
		{"LOSE_RACE", CauseLoseRace, true},
		{"BOGUS", CauseNone, false},
		{"9999", Cause(9999), false},
	}
	for _, tt := range tests {
		c, ok := ParseCause(tt.in)
		if c != tt.want || ok != tt.ok {
			t.Errorf("ParseCause(%q) = %v, %v", tt.in, c, ok)
		}
	}
	if CauseMediaTimeout.String() != "MEDIA_TIMEOUT" || int(CauseMediaTimeout) != 804 {
		t.Error("MEDIA_TIMEOUT")
	}
	if Cause(9999).String() != "CAUSE_9999" {
		t.Error(Cause(9999).String())
	}
}

func TestSubjects(t *testing.T) {
	s := DefaultSubjects()
	tests := []struct{ got, want string }{
		{s.Node("n1"), "cn.xswitch.node.n1"},
		{s.AnyNode(), "cn.xswitch.node"},
		{s.Ctrl("c1"), "cn.xswitch.ctrl.c1"},
		{s.Ctrl("cn.xswitch.ctrl.custom"), "cn.xswitch.ctrl.custom"},
		{s.CtrlRTC(), "cn.xswitch.ctrl.rtc"},
		{s.Status(), "cn.xswitch.status.node"},
		{Subjects{Prefix: "from-t1.cn.xswitch"}.Node("n"), "from-t1.cn.xswitch.node.n"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"jsonrpc":"2.0","id":1,"method":"login","params":{"sessid":"x"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"verto.ping"},{"jsonrpc":"2.0","id":"2","result":{}}]`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"m","x":[1]}}`,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":{"a\u0000":"\ud800"}}`,
		`[[[[{}]]]]`, `{"a":`, `"\`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b, Limits{MaxBytes: 1 << 16, MaxBatch: 8, MaxDepth: 32})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if de.RPC().Code == 0 {
				t.Fatal("error without code")
			}
			return
		}
		for _, m := range fr.Msgs {
			out, err := m.Marshal()
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !json.Valid(out) {
				t.Fatalf("re-encoded message is not JSON: %s", out)
			}
			back, err := DecodeMessage(out, Limits{MaxBytes: 1 << 17, MaxDepth: 33})
			if err != nil {
				t.Fatalf("re-decode %s: %v", out, err)
			}
			if back.Method != m.Method || back.Kind() != m.Kind() || !back.ID.Equal(m.ID) {
				t.Fatalf("round trip changed %s", out)
			}
			if len(m.Params) > 0 && m.Params[0] == '{' {
				p, err := EditParams(m.Params, func(o *Object) { o.Set("node_uuid", "n") })
				if err != nil || !json.Valid(p) {
					t.Fatalf("EditParams(%s) = %s, %v", m.Params, p, err)
				}
			}
		}
	})
}

// A repeated member of a message is read as encoding/json reads it: the
// last one wins (escaped keys included), and the decode builds no Object
// for the message's own members.
func TestDecodeRepeatedMembers(t *testing.T) {
	for _, tc := range []struct {
		name, frame, method, params string
		id                          string
	}{
		{"method", `{"jsonrpc":"2.0","id":1,"method":"verto.bye","method":"verto.info","params":{}}`, "verto.info", `{}`, "1"},
		{"escaped key", `{"jsonrpc":"2.0","id":1,"method":"verto.bye","\u006dethod":"verto.ping"}`, "verto.ping", ``, "1"},
		{"id", `{"jsonrpc":"2.0","id":1,"id":"two","method":"verto.ping"}`, "verto.ping", ``, `"two"`},
		{"params", `{"jsonrpc":"2.0","id":1,"method":"verto.info","params":{"a":1},"params":{"b":2}}`, "verto.info", `{"b":2}`, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMessage([]byte(tc.frame), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			var std struct {
				Method string          `json:"method"`
				ID     json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal([]byte(tc.frame), &std); err != nil {
				t.Fatal(err)
			}
			id, _ := m.ID.MarshalJSON()
			if m.Method != tc.method || m.Method != std.Method || string(m.Params) != tc.params || string(id) != tc.id || string(id) != string(std.ID) {
				t.Errorf("method %q params %s id %s; want %q %s %s", m.Method, m.Params, id, tc.method, tc.params, tc.id)
			}
		})
	}
	frame := []byte(`{"jsonrpc":"2.0","id":1,"method":"verto.info","params":{"dtmf":"1"}}`)
	// The Message, its id's bytes and the method's string.
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeMessage(frame, DefaultLimits) }); n > 3 {
		t.Errorf("DecodeMessage made %v allocations, want at most 3", n)
	}
}

// TestDecodeManyParams: params of more members than Limits.MaxParams (a
// hostile frame of thousands of keys) are refused with the message's id,
// and the bus takes what XCtrl adds to a client's.
func TestDecodeManyParams(t *testing.T) {
	frame := func(n int) []byte {
		b := append([]byte(`{"jsonrpc":"2.0","id":7,"method":"verto.info","params":`), manyKeys(n)...)
		return append(b, '}')
	}
	_, err := DecodeMessage(frame(29000), Limits{MaxBytes: 1 << 20})
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrTooManyParams) || de.ID.String() != "7" ||
		de.RPC().Code != CodeInvalidParams || de.RPC().Message != MsgTooManyParams {
		t.Fatalf("29,000 params: %v", err)
	}
	lim := Limits{MaxParams: MaxClientParams}
	// 128 members, "k0" twice among them (repeats count).
	if _, err := DecodeMessage(frame(127), lim); err != nil {
		t.Errorf("128 members: %v", err)
	}
	if _, err := DecodeMessage(frame(128), lim); !errors.Is(err, ErrTooManyParams) {
		t.Errorf("129 members: %v", err)
	}
	if _, err := DecodeMessage(frame(MaxClientParams+4), DefaultLimits); err != nil {
		t.Errorf("%d members on the bus: %v", MaxClientParams+5, err)
	}
	// In a batch, the member with too many is refused alone.
	batch := append(append([]byte(`[`), frame(128)...), `,{"jsonrpc":"2.0","id":8,"method":"verto.ping"}]`...)
	f, err := Decode(batch, lim)
	if err != nil || len(f.Msgs) != 1 || len(f.Errs) != 1 || !errors.Is(f.Errs[0], ErrTooManyParams) {
		t.Errorf("batch: %+v, %v", f, err)
	}
}
