package ctrl

import (
	"bytes"
	"errors"
	"io"

	"github.com/gobwas/ws"
)

// wsReader turns the bytes a client sends on its WebSocket into messages,
// whatever pieces they arrive in. Between reads it keeps nothing but an
// incomplete frame (and the fragments of an unfinished message), so an idle
// socket holds no buffer. Frames are parsed and checked (masking, opcodes,
// control frame rules, fragmentation) with gobwas/ws.
type wsReader struct {
	max     int    // message size cap
	pend    []byte // an incomplete frame (nil when idle)
	msg     []byte // fragments of the current message
	frag    bool   // inside a fragmented message
	over    bool   // the current message is over max: its frames are dropped
	discard int64  // payload bytes of a dropped frame still to come
	dropFin bool   // the frame being dropped ends its message
	dropped int64  // payload bytes of the dropped message so far
	// hr and hb serve header: kept here, they cost no allocation a frame.
	hr sliceReader
	hb [ws.MaxHeaderSize - 2]byte
}

// smallFragment: a message fragment smaller than this costs as much as a
// message (wsHandler.fragment). Browsers send whole messages, libraries
// that cut messages cut them at their write buffer (4 KiB for gorilla),
// and a message cut in byte-long fragments costs a frame's work per byte.
const smallFragment = 512

// wsHandler receives what a wsReader decodes.
type wsHandler interface {
	// message is one whole text or binary message; the callee owns data.
	message(data []byte)
	// tooLarge: a message over the cap was read to its end and dropped;
	// size is its payload's.
	tooLarge(size int64)
	// fragment: a data frame under smallFragment bytes that does not end
	// its message (the message comes with its last frame).
	fragment()
	// ping, pong and closeFrame are the peer's control frames (payload
	// only valid during the call).
	ping(payload []byte)
	pong()
	closeFrame(payload []byte)
}

// errShort: the bytes so far end inside a frame header.
var errShort = errors.New("short")

// tooBigFactor: a message over the cap is read to its end, dropped and
// answered, but one over tooBigFactor times the cap fails the connection
// (errTooBig) at the header that takes it there, before its payload is
// read: else a client that declared a frame of a gigabyte, or kept sending
// fragments, had XCtrl read whatever it sent for as long as it sent.
const tooBigFactor = 4

// errTooBig: a message over tooBigFactor times the cap (close code 1009).
var errTooBig = errors.New("ctrl: message too big")

// sliceReader reads a byte slice (for ws.ReadHeaderBuffer).
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// header parses the frame header at the start of b and returns its size.
func (r *wsReader) header(b []byte) (ws.Header, int, error) {
	r.hr.b = b
	h, err := ws.ReadHeaderBuffer(&r.hr, r.hb[:])
	n := len(b) - len(r.hr.b)
	r.hr.b = nil
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return h, 0, errShort
	}
	return h, n, err
}

// feed consumes p (which the caller may reuse afterwards), calling h for
// every complete message and control frame. An error fails the
// connection: errTooBig with close code 1009, any other is a protocol
// violation (1002).
func (r *wsReader) feed(p []byte, h wsHandler) error {
	data, owned := p, false
	if len(r.pend) > 0 {
		data, owned = append(r.pend, p...), true
		r.pend = nil
	}
	for len(data) > 0 {
		if r.discard > 0 {
			k := int(min(r.discard, int64(len(data))))
			r.discard -= int64(k)
			data = data[k:]
			if r.discard == 0 && r.dropFin {
				r.over = false
				h.tooLarge(r.dropped)
			}
			continue
		}
		hdr, n, err := r.header(data)
		if err == errShort {
			break
		}
		if err != nil {
			return err
		}
		st := ws.StateServerSide
		if r.frag {
			st = st.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(hdr, st); err != nil {
			return err
		}
		if hdr.OpCode.IsControl() {
			end := n + int(hdr.Length)
			if len(data) < end {
				break
			}
			payload := data[n:end]
			ws.Cipher(payload, hdr.Mask, 0)
			switch hdr.OpCode {
			case ws.OpPing:
				h.ping(payload)
			case ws.OpPong:
				h.pong()
			case ws.OpClose:
				h.closeFrame(payload)
			}
			data = data[end:]
			continue
		}
		if r.over || int64(len(r.msg))+hdr.Length > int64(r.max) {
			if !r.over {
				r.dropped = int64(len(r.msg))
			}
			if hdr.Length > tooBigFactor*int64(r.max)-r.dropped {
				return errTooBig
			}
			r.dropped += hdr.Length
			r.frag = !hdr.Fin
			r.over, r.msg = true, nil
			data = data[n:]
			r.discard, r.dropFin = hdr.Length, hdr.Fin
			if !hdr.Fin && hdr.Length < smallFragment {
				h.fragment()
			}
			if hdr.Length == 0 && hdr.Fin {
				r.over = false
				h.tooLarge(r.dropped)
			}
			continue
		}
		end := n + int(hdr.Length)
		if len(data) < end {
			break
		}
		payload := data[n:end]
		ws.Cipher(payload, hdr.Mask, 0)
		r.frag = !hdr.Fin
		switch {
		case !hdr.Fin:
			r.msg = append(r.msg, payload...)
			if hdr.Length < smallFragment {
				h.fragment()
			}
		case r.msg != nil:
			msg := append(r.msg, payload...)
			r.msg = nil
			h.message(msg)
		default:
			h.message(bytes.Clone(payload))
		}
		data = data[end:]
	}
	if len(data) > 0 {
		if owned {
			r.pend = data
		} else {
			r.pend = bytes.Clone(data)
		}
	}
	return nil
}

// idle reports whether nothing is buffered.
func (r *wsReader) idle() bool { return r.pend == nil && r.msg == nil }
