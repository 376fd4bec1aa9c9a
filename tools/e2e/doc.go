// Package e2e holds the end-to-end tests of xcc-rtc: the embedded NATS, two
// XCtrl instances and test-host nodes started in-process by package stack,
// and headless Verto clients (tools/client) making real WebRTC calls with
// DTLS-SRTP audio on 127.0.0.1. See README.md.
package e2e
