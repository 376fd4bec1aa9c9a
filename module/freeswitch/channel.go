//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"unsafe"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// fsChannel is xrtc.Channel on a FreeSWITCH session, found by UUID on every
// call (switch_core_session_locate): a channel that hung up answers
// ErrChannelGone and nothing is held across calls.
type fsChannel struct {
	uuid string
	host *fsHost
}

var _ xrtc.Channel = (*fsChannel)(nil)

// errRefused is a switch failure with no better name.
var errRefused = errors.New("mod_xrtc: the switch refused")

// errUnloading: the module is being unloaded and takes no new call.
var errUnloading = errors.New("mod_xrtc: the module is being unloaded")

func statusErr(r C.int) error {
	switch r {
	case C.XRTC_OK:
		return nil
	case C.XRTC_GONE:
		return xrtc.ErrChannelGone
	case C.XRTC_BAD_SDP:
		return xrtc.ErrBadSDP
	case C.XRTC_CODEC:
		return xrtc.ErrCodec
	case C.XRTC_NOT_BRIDGED:
		return xrtc.ErrNotBridged
	case C.XRTC_NOT_SUPPORTED:
		return xrtc.ErrNotSupported
	case C.XRTC_SHUTDOWN:
		return &xrtc.CauseError{Cause: verto.CauseSystemShutdown, Err: errUnloading}
	}
	return errRefused
}

func (c *fsChannel) UUID() string { return c.uuid }

// with calls f with the channel's UUID as a C string.
func (c *fsChannel) with(f func(uuid *C.char) C.int) error {
	cu := C.CString(c.uuid)
	defer C.free(unsafe.Pointer(cu))
	return statusErr(f(cu))
}

// takeString returns a malloc'd C string as Go and frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}

func (c *fsChannel) Offer(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var out *C.char
	err := c.with(func(u *C.char) C.int { return C.xrtc_offer(u, &out) })
	sdp := takeString(out)
	if err != nil {
		return "", err
	}
	return sdp, nil
}

func (c *fsChannel) SetRemoteAnswer(sdp string) error {
	cs := C.CString(sdp)
	defer C.free(unsafe.Pointer(cs))
	return c.with(func(u *C.char) C.int { return C.xrtc_set_remote_answer(u, cs) })
}

func (c *fsChannel) Renegotiate(offer string) (string, error) {
	cs := C.CString(offer)
	defer C.free(unsafe.Pointer(cs))
	var out *C.char
	err := c.with(func(u *C.char) C.int { return C.xrtc_renegotiate(u, cs, &out) })
	sdp := takeString(out)
	if err != nil {
		return "", err
	}
	return sdp, nil
}

func (c *fsChannel) MarkRinging() error {
	return c.with(func(u *C.char) C.int { return C.xrtc_mark_ringing(u) })
}

func (c *fsChannel) MarkAnswered() error {
	return c.with(func(u *C.char) C.int { return C.xrtc_mark_answered(u) })
}

func (c *fsChannel) Detach() error {
	return c.with(func(u *C.char) C.int { return C.xrtc_detach(u) })
}

func (c *fsChannel) Hangup(cause verto.Cause) {
	if cause == verto.CauseNone {
		cause = verto.CauseNormalClearing
	}
	_ = c.with(func(u *C.char) C.int { return C.xrtc_hangup(u, C.int(cause)) })
}

func (c *fsChannel) QueueDTMF(digits string) error {
	cd := C.CString(digits)
	defer C.free(unsafe.Pointer(cd))
	return c.with(func(u *C.char) C.int { return C.xrtc_queue_dtmf(u, cd) })
}

func (c *fsChannel) Hold(on bool) error {
	v := C.int(0)
	if on {
		v = 1
	}
	return c.with(func(u *C.char) C.int { return C.xrtc_hold(u, v) })
}

func (c *fsChannel) Transfer(destination, dialplan, context string) error {
	var m cmem
	defer m.free()
	d, dp, ctx := m.str(destination), m.str(dialplan), m.str(context)
	return c.with(func(u *C.char) C.int { return C.xrtc_transfer(u, d, dp, ctx) })
}

func (c *fsChannel) Partner() string {
	var out *C.char
	_ = c.with(func(u *C.char) C.int { return C.xrtc_partner(u, &out) })
	return takeString(out)
}

// Replace is mod_verto's attended transfer with any session FreeSWITCH
// knows (xrtc_ext.c).
func (c *fsChannel) Replace(otherUUID string) error {
	co := C.CString(otherUUID)
	defer C.free(unsafe.Pointer(co))
	return c.with(func(u *C.char) C.int { return C.xrtc_replace(u, co) })
}

func (c *fsChannel) RefreshVideo() error {
	return c.with(func(u *C.char) C.int { return C.xrtc_refresh_video(u) })
}

func (c *fsChannel) QueueCommand(cmd json.RawMessage) error {
	cc := C.CString(string(cmd))
	defer C.free(unsafe.Pointer(cc))
	return c.with(func(u *C.char) C.int { return C.xrtc_queue_command(u, cc) })
}

// SendText gives the client's real-time text to the call's text thread
// (enable-text; xrtc_ext.c): ErrNotSupported when the call has no text.
func (c *fsChannel) SendText(txt json.RawMessage) error {
	chars, err := xrtc.TextOf(txt)
	if err != nil || chars == "" {
		return err
	}
	cs := C.CString(chars)
	defer C.free(unsafe.Pointer(cs))
	return c.with(func(u *C.char) C.int { return C.xrtc_send_text(u, cs) })
}

// Identity implements xrtc.IdentityReader: the caller profile and
// variables as mod_verto's set_call_params reads them.
func (c *fsChannel) Identity() (xrtc.CallIdentity, error) {
	cu := C.CString(c.uuid)
	defer C.free(unsafe.Pointer(cu))
	js := takeString(C.xrtc_identity(cu))
	if js == "" {
		return xrtc.CallIdentity{}, xrtc.ErrChannelGone
	}
	return parseIdentity(js)
}

func (c *fsChannel) SetVariables(vars map[string]string) {
	if len(vars) == 0 {
		return
	}
	var m cmem
	defer m.free()
	v := m.vars(vars)
	_ = c.with(func(u *C.char) C.int { return C.xrtc_set_vars(u, &v) })
}

func (c *fsChannel) MediaStats() xrtc.MediaStats {
	var st C.xrtc_stats_t
	_ = c.with(func(u *C.char) C.int { return C.xrtc_media_stats(u, &st) })
	return xrtc.MediaStats{
		RTPPacketsIn:  uint64(st.rtp_packets_in),
		RTPBytesIn:    uint64(st.rtp_bytes_in),
		RTPPacketsOut: uint64(st.rtp_packets_out),
		Bypass:        st.bypass != 0,
		Held:          st.held != 0,
	}
}
