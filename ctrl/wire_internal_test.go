package ctrl

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/gobwas/ws"

	"xccrtc/verto"
)

// requestFrame writes the relayed request in the one buffer it makes (a
// buffer a few bytes short was copied again on every relay), as JSON.
func TestRequestFrameIsOneBuffer(t *testing.T) {
	var o verto.Object
	if err := o.UnmarshalJSON([]byte(`{"dtmf":"1","dialogParams":{"callID":"c1","destination_number":"9196"},"gone":null}`)); err != nil {
		t.Fatal(err)
	}
	o.SetRaw(verto.KeySessid, jsonString("s1"))
	var frame []byte
	allocs := testing.AllocsPerRun(100, func() { frame = requestFrame(nil, math.MaxUint64, verto.MethodInfo, &o) })
	if allocs != 1 {
		t.Errorf("requestFrame made %v allocations, want 1", allocs)
	}
	var m struct {
		ID     string          `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(frame, &m); err != nil || m.ID != "18446744073709551615" || m.Method != verto.MethodInfo {
		t.Fatalf("%s: %v %+v", frame, err, m)
	}
	var p map[string]any
	if err := json.Unmarshal(m.Params, &p); err != nil || p["gone"] != nil || p["sessid"] != "s1" {
		t.Fatalf("params %s: %v", m.Params, err)
	}
}

// resultFrame adds the socket's members to a node's result object that
// lacks them, in the one buffer it makes, and refuses what is not an object.
func TestResultFrame(t *testing.T) {
	var id verto.ID
	if err := id.UnmarshalJSON([]byte(`"7"`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, result, want string
		ok                 bool
	}{
		{"adds both", `{"message":"SENT"}`, `{"message":"SENT","node_uuid":"n1","sessid":"s\"1"}`, true},
		{"empty object", `{}`, `{"node_uuid":"n1","sessid":"s\"1"}`, true},
		{"spaces", ` { "a" : 1 } `, ` { "a" : 1 ,"node_uuid":"n1","sessid":"s\"1"}`, true},
		{"keeps the node's", `{"node_uuid":"other","sessid":"x"}`, `{"node_uuid":"other","sessid":"x"}`, true},
		{"keeps one, adds the other", `{"sessid":"x","a":[1,{"node_uuid":0}]}`, `{"sessid":"x","a":[1,{"node_uuid":0}],"node_uuid":"n1"}`, true},
		{"not an object", `"text"`, ``, false},
		{"broken", `{"a":`, ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := resultFrame(id, json.RawMessage(tc.result), "n1", `s"1`)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%s)", ok, tc.ok, f)
			}
			if !ok {
				return
			}
			want := `{"jsonrpc":"2.0","id":"7","result":` + tc.want + `}`
			if string(f) != want {
				t.Errorf("got  %s\nwant %s", f, want)
			}
			if !json.Valid(f) {
				t.Errorf("not JSON: %s", f)
			}
		})
	}
	result := json.RawMessage(`{"message":"SENT","dtmf":"1"}`)
	allocs := testing.AllocsPerRun(100, func() { _, _ = resultFrame(id, result, "n1", "s1") })
	if allocs != 1 {
		t.Errorf("resultFrame made %v allocations, want 1", allocs)
	}
}

// appendFrameHeader writes the headers gobwas/ws writes, for each length
// class.
func TestAppendFrameHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 1 << 20} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpPong, ws.OpClose} {
			var want bytes.Buffer
			if err := ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: op, Length: int64(n)}); err != nil {
				t.Fatal(err)
			}
			if got := appendFrameHeader(nil, op, n); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("op %v, %d bytes: % x, want % x", op, n, got, want.Bytes())
			}
		}
	}
}
