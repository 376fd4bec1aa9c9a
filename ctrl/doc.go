// Package ctrl is XCtrl, the Verto WebSocket controller of xcc-rtc, as a
// library: it terminates browser WebSockets (ws and wss), logs users in
// (directory passwords, HS256 xcc_token, xui_sessid), and routes their Verto
// JSON-RPC messages over NATS to the FreeSWITCH nodes running xrtc, so that
// a stock verto.js client cannot tell it from mod_verto.
//
// A Server is configured with Config (Defaults, Validate) and Deps, started
// with Start and drained with Shutdown; tests and tools run it in-process
// and read its addresses with WSURL and NATSURL. With no NATS URL it starts
// an embedded NATS server (natsd) with JetStream.
//
// The parts, each behind a small type: Session (one socket), Sessions (this
// instance's sockets), Router (callID, destination and event channel ->
// node), NodeTable (node status and choice), Registry (logged-in sockets of
// every instance, a JetStream key-value bucket), Authenticator, Requests
// (bus requests with one shared reply inbox), Bus, Metrics. See README.md.
package ctrl
