package ctrl

import (
	"encoding/json"
	"testing"
)

// The registry's values are written by hand; they read back, with
// encoding/json, as the entries they were made from, whatever the strings
// hold.
func TestLeaseValuesAreTheEntrysJSON(t *testing.T) {
	for _, e := range []RegEntry{
		{CtrlUUID: "c1", Sessid: "s1", Login: "1000@example.com"},
		{CtrlUUID: "", Sessid: "", Login: ""},
		{CtrlUUID: `c"\`, Sessid: "s\n\t\x01", Login: "<ü>&用户@例子.cn"},
		{CtrlUUID: "c", Sessid: "s", Login: "bad\xffutf8"},
	} {
		l := &Lease{Entry: e}
		sv, uv := l.values()
		var gotU RegEntry
		if err := json.Unmarshal(uv, &gotU); err != nil {
			t.Fatalf("%q: %v", uv, err)
		}
		want, _ := json.Marshal(e)
		var wantU RegEntry
		_ = json.Unmarshal(want, &wantU)
		if gotU != wantU {
			t.Errorf("user value %q reads %+v, want %+v", uv, gotU, wantU)
		}
		var gotS, wantS struct {
			CtrlUUID string `json:"ctrl_uuid"`
			Login    string `json:"login"`
		}
		if err := json.Unmarshal(sv, &gotS); err != nil {
			t.Fatalf("%q: %v", sv, err)
		}
		wantS.CtrlUUID, wantS.Login = wantU.CtrlUUID, wantU.Login
		if gotS != wantS {
			t.Errorf("sessid value %q reads %+v, want %+v", sv, gotS, wantS)
		}
	}
}
