// Package chaos is the chaos suite of xcc-rtc: the failures of a real
// deployment, injected for real into a system of separate processes on
// 127.0.0.1 (xrtc-natsd servers, xctrl instances, xrtc-node test-host
// nodes), with headless clients (tools/client) carrying real DTLS-SRTP
// audio in the calling process.
//
// Each Scenario starts its System, places calls, injects one failure
// (SIGKILL or SIGTERM of a process, NATS down, a cluster member killed,
// sockets that never log in, garbage, over-long identifiers) and returns a
// Result: calls kept and lost, counted from the clients' RTP, the time until
// a new call is answered with audio again, and notes. A client whose XCtrl
// died logs in again elsewhere with its sessid and takes its call back
// (verto.attach), as verto.js does.
//
// tools/e2e's TestChaos runs every scenario at the Small scale;
// tools/xrtc-chaos (make chaos) at the Full scale, printing a table.
package chaos
