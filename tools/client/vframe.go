package client

import "errors"

// frameInfo is what the client learns about a video frame without decoding
// it: whether a packet starts a key frame, and the picture size a key frame
// (VP8) or a sequence parameter set (H.264) gives.
type frameInfo struct {
	key           bool
	width, height int
}

// vp8PacketInfo reads an RTP VP8 payload (RFC 7741): the payload
// descriptor, then, in the first packet of a frame, the frame tag and for
// key frames the start code and the picture size (RFC 6386 9.1).
func vp8PacketInfo(p []byte) frameInfo {
	if len(p) < 1 {
		return frameInfo{}
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	i := 1
	if x {
		if len(p) < 2 {
			return frameInfo{}
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return frameInfo{}
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if !s || pid != 0 || i >= len(p) {
		return frameInfo{}
	}
	return vp8FrameInfo(p[i:])
}

// vp8FrameInfo reads the start of a VP8 frame.
func vp8FrameInfo(f []byte) frameInfo {
	if len(f) < 3 || f[0]&0x01 != 0 { // P bit set: an inter frame
		return frameInfo{}
	}
	info := frameInfo{key: true}
	if len(f) >= 10 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a {
		info.width = int(uint16(f[6])|uint16(f[7])<<8) & 0x3fff
		info.height = int(uint16(f[8])|uint16(f[9])<<8) & 0x3fff
	}
	return info
}

// H.264 NAL unit types the client looks at.
const (
	nalIDR   = 5
	nalSPS   = 7
	nalSTAPA = 24
	nalFUA   = 28
)

// h264PacketInfo reads an RTP H.264 payload (RFC 6184): single NAL units,
// STAP-A aggregates and the first fragment of FU-A. An IDR slice or a
// sequence parameter set marks a key frame; an SPS gives the picture size.
func h264PacketInfo(p []byte) frameInfo {
	var info frameInfo
	nal := func(n []byte) {
		if len(n) == 0 {
			return
		}
		switch n[0] & 0x1f {
		case nalIDR:
			info.key = true
		case nalSPS:
			info.key = true
			if w, h, err := spsSize(n[1:]); err == nil {
				info.width, info.height = w, h
			}
		}
	}
	if len(p) == 0 {
		return info
	}
	switch p[0] & 0x1f {
	case nalSTAPA:
		for rest := p[1:]; len(rest) >= 2; {
			size := int(rest[0])<<8 | int(rest[1])
			rest = rest[2:]
			if size > len(rest) {
				break
			}
			nal(rest[:size])
			rest = rest[size:]
		}
	case nalFUA:
		if len(p) >= 2 && p[1]&0x80 != 0 { // start of the fragmented unit
			nal([]byte{p[0]&0xe0 | p[1]&0x1f})
		}
	default:
		nal(p)
	}
	return info
}

var errSPS = errors.New("short or bad SPS")

// bitReader reads an H.264 RBSP: bits and Exp-Golomb codes, emulation
// prevention bytes (00 00 03) removed.
type bitReader struct {
	b   []byte
	pos int // in bits
	err error
}

func newRBSP(b []byte) *bitReader {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return &bitReader{b: out}
}

func (r *bitReader) bit() uint {
	if r.pos >= len(r.b)*8 {
		r.err = errSPS
		return 0
	}
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v
}

func (r *bitReader) bits(n int) uint {
	var v uint
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned Exp-Golomb code.
func (r *bitReader) ue() uint {
	zeros := 0
	for r.bit() == 0 && r.err == nil {
		zeros++
		if zeros > 31 {
			r.err = errSPS
			return 0
		}
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

// se reads a signed Exp-Golomb code.
func (r *bitReader) se() int {
	v := r.ue()
	if v&1 == 1 {
		return int(v+1) / 2
	}
	return -int(v / 2)
}

// spsSize returns the picture size a sequence parameter set (without its
// NAL header byte) gives, cropping applied (H.264 7.3.2.1.1).
func spsSize(b []byte) (width, height int, err error) {
	r := newRBSP(b)
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := uint(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			r.bit() // separate_colour_plane_flag
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.bit()           // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			n := 8
			if chroma == 3 {
				n = 12
			}
			for i := range n {
				if r.bit() == 0 {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := 8, 8
				for range size {
					if next != 0 {
						next = (last + r.se() + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue()
	case 1:
		r.bit()
		r.se()
		r.se()
		n := r.ue()
		if n > 255 {
			return 0, 0, errSPS
		}
		for range n {
			r.se()
		}
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	wMBs := r.ue() + 1
	hMaps := r.ue() + 1
	frameMBsOnly := r.bit()
	if frameMBsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint
	if r.bit() == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	subW, subH := uint(2), uint(2)
	switch chroma {
	case 0:
		subW, subH = 1, 1
	case 2:
		subH = 1
	case 3:
		subW, subH = 1, 1
	}
	unitX, unitY := subW, subH*(2-frameMBsOnly)
	if chroma == 0 {
		unitX, unitY = 1, 2-frameMBsOnly
	}
	w := int(wMBs*16) - int((cl+cr)*unitX)
	h := int((2-frameMBsOnly)*hMaps*16) - int((ct+cb)*unitY)
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return 0, 0, errSPS
	}
	return w, h, nil
}
