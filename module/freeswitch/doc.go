// Command freeswitch is mod_xrtc, the FreeSWITCH module of the xrtc
// endpoint: a thin cgo binding that puts the plain-Go endpoint
// (xccrtc/module/xrtc) into a real FreeSWITCH.
//
// Build it with the freeswitch build tag as a C shared library (the Makefile
// target `module` does this and finds FreeSWITCH through pkg-config):
//
//	PKG_CONFIG_PATH=/usr/local/freeswitch/lib/pkgconfig \
//	  go build -buildmode=c-shared -tags freeswitch -o mod_xrtc.so ./module/freeswitch
//
// mod_xrtc.c holds the module definition, the "xrtc" endpoint (io routines,
// state handlers, receive_message, outgoing_channel), the "xrtc" API command
// and the event-channel hookup; the Go files implement xrtc.Host and
// xrtc.Channel on FreeSWITCH's API and forward FreeSWITCH's callbacks to the
// endpoint's entry points. No Verto logic lives here.
//
// Without the tag the folder is this file only, so that `go build ./...`,
// `go vet ./...` and `go test ./...` work on machines without FreeSWITCH.
// See README.md for installing, loading and the fs_cli commands.
package main

// main is never called: a c-shared library needs one.
func main() {}
