package verto

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fixtures under testdata/verto are message shapes as mod_verto,
// verto.js and the XCC bus send them. Every one must decode, classify, decode
// into its typed params, and survive a relay edit with every field intact.
func TestGoldenFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/verto/*.json")
	if err != nil || len(files) < 40 {
		t.Fatalf("fixtures: %d files, %v", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fr, err := Decode(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(fr.Errs) > 0 {
				t.Fatalf("bad members: %v", fr.Errs[0])
			}
			if name == "batch" {
				if !fr.Batch || len(fr.Msgs) != 2 {
					t.Fatalf("batch: %+v", fr)
				}
				return
			}
			m := fr.Msgs[0]
			checkKind(t, name, m)
			checkTyped(t, m)
			checkRelay(t, raw, m)
		})
	}
}

func checkKind(t *testing.T, name string, m *Message) {
	t.Helper()
	want := KindRequest
	switch {
	case strings.HasPrefix(name, "node-"):
		want = KindNotification
	case strings.Contains(name, "result") || strings.HasPrefix(name, "c2s-ack"):
		want = KindResult
	case strings.Contains(name, "failed") || strings.Contains(name, "required") ||
		strings.Contains(name, "not-") || strings.Contains(name, "unauthorized"):
		want = KindError
	}
	if m.Kind() != want {
		t.Errorf("kind %v, want %v", m.Kind(), want)
	}
}

// checkTyped decodes params into the type the method uses.
func checkTyped(t *testing.T, m *Message) {
	t.Helper()
	var v any
	switch m.Method {
	case MethodLogin:
		v = new(LoginParams)
	case MethodSubscribe, MethodUnsubscribe:
		v = new(SubscribeParams)
	case MethodBroadcast:
		v = new(BroadcastParams)
	case MethodEvent:
		v = new(EventParams)
	case MethodClientReady:
		v = new(ClientReadyParams)
	case MethodPing:
		v = new(PingParams)
	case MethodTrying:
		v = new(TryingParams)
	case MethodNodeRegister, MethodNodeUpdate, MethodNodeUnregister:
		v = new(Node)
	case MethodInvite, MethodAnswer, MethodBye, MethodAttach, MethodModify, MethodInfo, MethodMedia, MethodDisplay:
		if hasKey(m.Params, "callID") {
			v = new(ServerCallParams)
		} else {
			v = new(CallParams)
		}
	case "":
		if m.Error != nil {
			return
		}
		var r map[string]any
		if err := m.DecodeResult(&r); err != nil {
			t.Fatal(err)
		}
		return
	case MethodPunt:
		return
	default:
		t.Fatalf("fixture with unmodelled method %q", m.Method)
	}
	if err := m.DecodeParams(v); err != nil {
		t.Fatalf("typed params: %v", err)
	}
	switch p := v.(type) {
	case *CallParams:
		if p.CallID() == "" && m.Method != MethodInfo {
			t.Error("dialogParams.callID missing")
		}
	case *ServerCallParams:
		if p.CallID == "" {
			t.Error("callID missing")
		}
	case *EventParams:
		if p.EventChannel == "" {
			t.Error("eventChannel missing")
		}
		if len(p.PvtData) > 0 {
			var pd PvtData
			if err := json.Unmarshal(p.PvtData, &pd); err != nil || len(pd.Channels()) < 3 {
				t.Errorf("pvtData %v %v", pd, err)
			}
		}
	}
}

func hasKey(raw json.RawMessage, k string) bool {
	o, err := ParseObject(raw)
	return err == nil && o.Has(k)
}

// checkRelay adds the bus fields as XCtrl does and checks nothing else moved.
func checkRelay(t *testing.T, raw []byte, m *Message) {
	t.Helper()
	if len(m.Params) == 0 {
		return
	}
	edited, err := EditParams(m.Params, func(o *Object) { o.Set(KeyCtrlUUID, "ctrl-x") })
	if err != nil {
		t.Fatal(err)
	}
	relayed := *m
	relayed.Params = edited
	out, err := relayed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]any
	if err := json.Unmarshal(raw, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &after); err != nil {
		t.Fatal(err)
	}
	ap := after["params"].(map[string]any)
	if ap[KeyCtrlUUID] != "ctrl-x" {
		t.Error("ctrl_uuid not added")
	}
	delete(ap, KeyCtrlUUID)
	if bp, ok := before["params"].(map[string]any); ok {
		if _, had := bp[KeyCtrlUUID]; had {
			ap[KeyCtrlUUID] = bp[KeyCtrlUUID]
		}
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("relay changed the message:\n%s\n%s", bytes.TrimSpace(raw), out)
	}
}
