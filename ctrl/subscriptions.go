package ctrl

import (
	"encoding/json"

	"xccrtc/verto"
)

// replaySubscriptions gives a node that joined (or started again) the
// subscriptions of this instance's sockets to channels nobody owns
// (presence, FSevent): those went to the nodes alive when the socket
// subscribed, and a node must know them to send its own calls' presence
// and its switch's events to the sockets that want them.
func (srv *Server) replaySubscriptions(node string) {
	for _, s := range srv.sessions.All() {
		if s.closed.Load() || s.Identity() == nil {
			continue
		}
		var chans []string
		s.mu.Lock()
		for ch := range s.subs {
			if _, owned := srv.router.ChannelNode(ch); !owned {
				chans = append(chans, ch)
			}
		}
		s.mu.Unlock()
		if len(chans) == 0 {
			continue
		}
		m := &verto.Message{JSONRPC: verto.Version, Method: verto.MethodSubscribe, Params: json.RawMessage(`{}`)}
		if targets := srv.channelTargets(s, m, map[string][]string{node: chans}); len(targets) > 0 {
			srv.fanout(targets, srv.cfg.Timers.LoginWait, func([]*verto.Message) {})
		}
	}
}
