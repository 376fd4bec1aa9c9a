// Package client is a headless Verto client built on pion/webrtc: the Go
// equivalent of verto.js that tests and QA tools use to talk to XCtrl (or to a
// stock FreeSWITCH mod_verto) with real media.
//
// A Client is one WebSocket session with a persistent sessid. It logs in the
// way verto.js does (login with only the sessid, then credentials on -32000),
// acknowledges every server request about a call, and keeps the node_uuid that
// XCtrl announces with verto.trying so that every later message of the call
// carries it.
//
//	c, err := client.Dial(ctx, client.Options{URL: "wss://xctrl:8082", Login: "1000@example.com", Passwd: "1234"})
//	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(1000)})
//	err = call.WaitAnswered(ctx)
//	err = call.SendDTMF(ctx, "123")
//	err = call.Hangup(ctx)
//	fmt.Println(call.Report())
//
// The client sends G.711 μ-law (a generated tone, a WAV file or silence)
// and, when the far end insists on opus, opus silence frames (there is no
// opus encoder without cgo); with CallOptions.Video it also receives VP8 or
// H.264 and sends an IVF file. It counts what it receives, with loss and
// interarrival jitter computed as RFC 3550 says, and measures the audio
// round trip when the far end echoes (see Report). Each media section has a
// peer connection of its own, as FreeSWITCH gives each its own transport.
//
// Events come through channels (Client.Incoming, Call.Done,
// Conference.Updates) and wait functions (Call.WaitAnswered,
// Call.WaitReceived, Conference.WaitMembers), so callers never sleep.
package client
