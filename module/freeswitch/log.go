//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"unsafe"
)

// fsLog writes one line to FreeSWITCH's log; a non-empty uuid files it
// under that channel (fs_cli's uuid filter, the channel's log).
func fsLog(level C.int, uuid, msg string) {
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	var cuuid *C.char
	if uuid != "" {
		cuuid = C.CString(uuid)
		defer C.free(unsafe.Pointer(cuuid))
	}
	C.xrtc_log(level, cuuid, cmsg)
}

// fsHandler is a slog.Handler that writes to FreeSWITCH's log: the message
// and then key=value pairs. A "call_id" attribute files the line under that
// channel. FreeSWITCH's own log level decides what is shown.
type fsHandler struct {
	attrs  []slog.Attr
	prefix string // group prefix, "a.b."
}

func newFSHandler(attrs []slog.Attr) *fsHandler { return &fsHandler{attrs: attrs} }

func (h *fsHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *fsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &fsHandler{prefix: h.prefix, attrs: append([]slog.Attr(nil), h.attrs...)}
	for _, a := range as {
		a.Key = h.prefix + a.Key
		n.attrs = append(n.attrs, a)
	}
	return n
}

func (h *fsHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &fsHandler{prefix: h.prefix + name + ".", attrs: h.attrs}
}

func (h *fsHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	uuid := ""
	add := func(a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Equal(slog.Attr{}) {
			return
		}
		if a.Key == "call_id" && uuid == "" {
			uuid = a.Value.String()
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.String()
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		a.Key = h.prefix + a.Key
		add(a)
		return true
	})
	fsLog(fsLevel(r.Level), uuid, b.String())
	return nil
}

func fsLevel(l slog.Level) C.int {
	switch {
	case l >= slog.LevelError:
		return C.XRTC_LOG_ERROR
	case l >= slog.LevelWarn:
		return C.XRTC_LOG_WARNING
	case l >= slog.LevelInfo:
		return C.XRTC_LOG_INFO
	}
	return C.XRTC_LOG_DEBUG
}
