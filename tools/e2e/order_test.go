package e2e

import (
	"fmt"
	"testing"
	"time"

	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// TestInviteResultBeforeAnswer: a browser must get the result of its
// verto.invite ("CALL CREATED") before the call's verto.answer, as from
// mod_verto (verto/README.md, ctrl/README.md "Node to client"). Twenty calls
// to 9198, which the test host answers at once on its own goroutine.
//
// The node replies "CALL CREATED" while the call is still new, and an answer
// the switch makes meanwhile waits behind it (module/xrtc/invite.go,
// createInbound): before that, 1 to 3 calls in 10 showed the answer first.
func TestInviteResultBeforeAnswer(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 1, Nodes: 1}, 40*time.Second)
	rc := e.rawDial(0)
	rc.login(1000)
	var bad []string
	for i := 0; i < 20; i++ {
		p, err := newRawPeer()
		fatalIf(t, err, "peer")
		sdp, err := p.offer(e.ctx)
		fatalIf(t, err, "offer")
		callID := fmt.Sprintf("order-%d-%s", i, rc.sessid[:8])
		dp := map[string]any{"callID": callID, "destination_number": "9198"}
		r := rc.request(verto.MethodInvite, map[string]any{"sessid": rc.sessid, "sdp": sdp, "dialogParams": dp})
		if r.Error != nil {
			t.Fatalf("invite: %v", r.Error)
		}
		ans := rc.next(e.ctx, "verto.answer", func(m *verto.Message) bool {
			var sp verto.ServerCallParams
			return m.Method == verto.MethodAnswer && m.DecodeParams(&sp) == nil && sp.CallID == callID
		})
		if rc.index(r) > rc.index(ans) {
			bad = append(bad, callID)
		}
		if b := rc.request(verto.MethodBye, map[string]any{"sessid": rc.sessid, "dialogParams": dp}); b.Error != nil {
			t.Errorf("bye: %v", b.Error)
		}
		p.close()
	}
	if len(bad) > 0 {
		t.Fatalf("verto.answer reached the browser before the invite's result on %d of 20 calls %v", len(bad), bad)
	}
}
