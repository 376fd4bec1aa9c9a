// Package verto is the wire contract of xcc-rtc: the Verto JSON-RPC 2.0
// messages exchanged between browsers, XCtrl and xrtc nodes, the error codes
// and hang-up causes they carry, the NATS subjects and node status messages of
// the XCC bus, and the grammar of xrtc dial strings.
//
// It is a leaf package: every other part of xcc-rtc imports it and it imports
// none of them.
//
// Messages are decoded once, at the edge, into [Message], whose params stay
// raw JSON. Handlers read the fields they need with [Message.DecodeParams] into
// the typed structs of this package, and relays change params with [Object],
// which edits the top level of a JSON object without touching (or dropping) the
// values it does not know about: a controller never loses what a newer client
// or node sends.
package verto
