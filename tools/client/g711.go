package client

// G.711 μ-law (PCMU), as ITU-T G.711 and every softswitch do it: bias 0x84,
// clip at 32635, bits inverted on the wire.

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// ulawEncode returns the μ-law byte of one 16-bit linear sample.
func ulawEncode(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// ulawDecode returns the linear sample of a μ-law byte.
func ulawDecode(u byte) int16 {
	u = ^u
	sign := u & 0x80
	exp := int(u>>4) & 0x07
	mant := int(u & 0x0f)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if sign != 0 {
		return int16(-v)
	}
	return int16(v)
}

// ulawSilence is the μ-law byte of a zero sample.
const ulawSilence = 0xff
