package ctrl

import (
	"encoding/json"
	"math"
	"testing"

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
	allocs := testing.AllocsPerRun(100, func() { frame = requestFrame(math.MaxUint64, verto.MethodInfo, &o) })
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
