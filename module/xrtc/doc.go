// Package xrtc is the xrtc FreeSWITCH endpoint in plain Go: mod_verto
// without the WebSocket. Verto requests come from XCtrl over NATS (subjects
// cn.xswitch.node.<node_uuid> and the queue subject cn.xswitch.node), answers
// and node-to-client messages go back to cn.xswitch.ctrl.<ctrl_uuid>; media
// stays in the switch.
//
// The package talks to the switch only through Host and Channel, which the
// cgo binding (module/freeswitch) implements on FreeSWITCH's C API and
// module/testhost implements in Go with pion. The switch calls into the
// endpoint through Endpoint's entry points:
//
//	ChannelProgress / ChannelAnswer   early media and answer of a client's call -> verto.media / verto.answer
//	ChannelHangup                     any hang-up -> verto.bye with cause and causeCode
//	ChannelDisplay(Update)            verto.display with the call's identity
//	ChannelPrompt / ChannelMediaParams verto.prompt / verto.mediaParams
//	ChannelMediaReneg                 a new offer with verto.attach (uuid_media_reneg)
//	ChannelText                       real-time text -> verto.info txt (enable-text)
//	RecoverCall / ChannelInit         a call the switch recovered after a restart, re-offered with verto.attach
//	DeliverEvent                      the switch's event-channel bus (liveArray, chat, moderator, presence)
//	Originate                         outgoing_channel for "xrtc/..." dial strings (calls to WebRTC users)
//	API                               the fs_cli command `xrtc status|calls|debug|reload`
//	Start / Stop                      module load and shutdown
//
// Every entry point recovers from panics (a panic in Go would take
// FreeSWITCH down), never blocks on the network, and may be called from any
// thread. Each call's work runs in order on its own queue; different calls
// run in parallel.
package xrtc
