package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// The client's audio runs at 8 kHz, 20 ms frames: what PCMU carries.
const (
	sampleRate     = 8000
	frameSamples   = 160
	frameDuration  = 20 // ms
	defaultToneHz  = 1000
	toneAmplitude  = 8000 // about -12 dBFS
	probeAmplitude = 12000
)

type audioKind int

const (
	audioTone audioKind = iota
	audioSilence
	audioPCM
)

// Audio is what a call sends. The zero value is a 1 kHz tone. Make one with
// Tone, Silence, WAVFile or WAV; it is a description, safe to share between
// calls (each call plays it from the start).
type Audio struct {
	kind    audioKind
	hz      float64
	samples []int16 // 8 kHz mono, for audioPCM
	name    string
}

// Tone is a sine tone of hz (1000 when hz <= 0).
func Tone(hz float64) Audio {
	if hz <= 0 {
		hz = defaultToneHz
	}
	return Audio{kind: audioTone, hz: hz}
}

// Silence sends silent frames: packets flow, nothing is heard.
func Silence() Audio { return Audio{kind: audioSilence} }

// WAVFile reads a WAV file for playing in a loop. See WAV for the formats.
func WAVFile(path string) (Audio, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Audio{}, fmt.Errorf("client: wav: %w", err)
	}
	a, err := WAV(bytes.NewReader(b))
	if err != nil {
		return Audio{}, fmt.Errorf("client: wav %s: %w", path, err)
	}
	a.name = path
	return a, nil
}

// Errors about WAV input.
var (
	// ErrWAVFormat: not a RIFF/WAVE file with a PCM fmt chunk and data.
	ErrWAVFormat = errors.New("not a PCM WAV file")
	// ErrWAVUnsupported: a WAV format the client does not convert.
	ErrWAVUnsupported = errors.New("unsupported WAV format (want 16-bit PCM, mono or stereo)")
)

// WAV reads 16-bit PCM WAV data, mono or stereo (mixed down), at any sample
// rate. Rates other than 8 kHz are resampled to 8 kHz by linear
// interpolation, after a simple averaging filter when downsampling: good
// enough for test speech and tones, not for listening tests.
func WAV(r io.Reader) (Audio, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Audio{}, ErrWAVFormat
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return Audio{}, ErrWAVFormat
	}
	var (
		format, channels, bits uint16
		rate                   uint32
		haveFmt                bool
		data                   []byte
	)
	for data == nil {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return Audio{}, ErrWAVFormat
		}
		size := binary.LittleEndian.Uint32(ch[4:8])
		if size > 1<<30 {
			return Audio{}, ErrWAVFormat
		}
		body := make([]byte, size+size&1)
		if _, err := io.ReadFull(r, body); err != nil && string(ch[0:4]) != "data" {
			return Audio{}, ErrWAVFormat
		}
		switch string(ch[0:4]) {
		case "fmt ":
			if size < 16 {
				return Audio{}, ErrWAVFormat
			}
			format = binary.LittleEndian.Uint16(body[0:2])
			channels = binary.LittleEndian.Uint16(body[2:4])
			rate = binary.LittleEndian.Uint32(body[4:8])
			bits = binary.LittleEndian.Uint16(body[14:16])
			if format == 0xfffe && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: subformat's first two bytes
				format = binary.LittleEndian.Uint16(body[24:26])
			}
			haveFmt = true
		case "data":
			data = body[:size]
		}
	}
	if !haveFmt {
		return Audio{}, ErrWAVFormat
	}
	if format != 1 || bits != 16 || channels < 1 || channels > 2 || rate < 4000 || rate > 192000 {
		return Audio{}, fmt.Errorf("%w: format %d, %d bits, %d channels, %d Hz", ErrWAVUnsupported, format, bits, channels, rate)
	}
	n := len(data) / int(2*channels)
	pcm := make([]float64, n)
	for i := range n {
		var sum int
		for c := range int(channels) {
			off := (i*int(channels) + c) * 2
			sum += int(int16(binary.LittleEndian.Uint16(data[off:])))
		}
		pcm[i] = float64(sum) / float64(channels)
	}
	out := resample(pcm, int(rate), sampleRate)
	if len(out) < frameSamples {
		return Audio{}, fmt.Errorf("%w: shorter than one 20 ms frame", ErrWAVFormat)
	}
	s := make([]int16, len(out))
	for i, v := range out {
		s[i] = clip16(v)
	}
	return Audio{kind: audioPCM, samples: s}, nil
}

// resample converts pcm from rate `from` to rate `to` by linear
// interpolation, averaging over the source span when downsampling.
func resample(pcm []float64, from, to int) []float64 {
	if from == to {
		return pcm
	}
	ratio := float64(from) / float64(to)
	if ratio > 1 { // crude low-pass: moving average over the decimation span
		w := int(math.Round(ratio))
		avg := make([]float64, len(pcm))
		var acc float64
		for i := range pcm {
			acc += pcm[i]
			if i >= w {
				acc -= pcm[i-w]
			}
			k := min(i+1, w)
			avg[i] = acc / float64(k)
		}
		pcm = avg
	}
	n := int(float64(len(pcm)) / ratio)
	out := make([]float64, n)
	for i := range n {
		x := float64(i) * ratio
		j := int(x)
		f := x - float64(j)
		a := pcm[j]
		b := a
		if j+1 < len(pcm) {
			b = pcm[j+1]
		}
		out[i] = a + (b-a)*f
	}
	return out
}

func clip16(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}

// String describes the audio for reports.
func (a Audio) String() string {
	switch a.kind {
	case audioSilence:
		return "silence"
	case audioPCM:
		if a.name != "" {
			return "wav:" + a.name
		}
		return "wav"
	}
	hz := a.hz
	if hz <= 0 {
		hz = defaultToneHz
	}
	return fmt.Sprintf("tone:%gHz", hz)
}

// pcmSource plays an Audio, one 20 ms frame at a time.
type pcmSource struct {
	a     Audio
	phase float64
	pos   int
}

func (a Audio) source() *pcmSource {
	if a.kind == audioTone && a.hz <= 0 {
		a.hz = defaultToneHz
	}
	return &pcmSource{a: a}
}

// next fills frame with the next samples.
func (s *pcmSource) next(frame []int16) {
	switch s.a.kind {
	case audioSilence:
		clear(frame)
	case audioPCM:
		for i := range frame {
			frame[i] = s.a.samples[s.pos]
			s.pos = (s.pos + 1) % len(s.a.samples)
		}
	default:
		step := 2 * math.Pi * s.a.hz / sampleRate
		for i := range frame {
			frame[i] = int16(toneAmplitude * math.Sin(s.phase))
			s.phase += step
			if s.phase > 2*math.Pi {
				s.phase -= 2 * math.Pi
			}
		}
	}
}

// Probes measure the audio round trip through an echoing far end: every
// probe interval one 20 ms frame is replaced by a burst at one of three probe
// frequencies, cycling, and the receiver looks for those bursts in what comes
// back (Goertzel filter). Three frequencies keep matching unambiguous for
// round trips up to three probe intervals. A far end that transcodes (for
// example through a conference mixer) still passes a tone burst; one that
// does not echo never matches, and no round trip is reported.
type probeSet struct {
	freqs [3]float64
}

func newProbeSet(toneHz float64) probeSet {
	var ps probeSet
	i := 0
	for _, f := range []float64{1700, 2300, 2900, 3400, 600} {
		if toneHz > 0 && math.Abs(f-toneHz) < 400 {
			continue
		}
		ps.freqs[i] = f
		if i++; i == len(ps.freqs) {
			break
		}
	}
	return ps
}

// fill writes probe k's burst into frame.
func (ps probeSet) fill(frame []int16, k int) {
	step := 2 * math.Pi * ps.freqs[k%len(ps.freqs)] / sampleRate
	for i := range frame {
		// a short fade in and out keeps the burst's energy in its bin
		w := 1.0
		if i < 8 {
			w = float64(i) / 8
		} else if i >= len(frame)-8 {
			w = float64(len(frame)-1-i) / 8
		}
		frame[i] = int16(probeAmplitude * w * math.Sin(step*float64(i)))
	}
}

// detect returns which probe (0..2) frame holds, or -1. A frame is a probe
// when one probe frequency carries most of its energy.
func (ps probeSet) detect(frame []int16) int {
	var total float64
	for _, s := range frame {
		total += float64(s) * float64(s)
	}
	if total < float64(len(frame))*500*500 { // quieter than about -36 dBFS
		return -1
	}
	best, bestP := -1, 0.0
	for k, f := range ps.freqs {
		p := goertzel(frame, f)
		if p > bestP {
			best, bestP = k, p
		}
	}
	// Goertzel power of a pure tone of amplitude A over N samples is about
	// (A*N/2)^2; the whole frame's energy is A^2*N/2. Their ratio for a pure
	// tone is N/2.
	if bestP/total > 0.6*float64(len(frame))/2 {
		return best
	}
	return -1
}

// goertzel returns the power of frame at frequency f.
func goertzel(frame []int16, f float64) float64 {
	w := 2 * math.Pi * f / sampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range frame {
		s0 := float64(x) + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}
