package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestULaw(t *testing.T) {
	for _, tt := range []struct {
		in   int16
		want byte
	}{{0, 0xff}, {32767, 0x80}, {-32768, 0x00}, {-1, 0x7f}} {
		if got := ulawEncode(tt.in); got != tt.want {
			t.Errorf("ulawEncode(%d) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
	for s := -32768; s <= 32767; s += 97 {
		got := int(ulawDecode(ulawEncode(int16(s))))
		if d := math.Abs(float64(got - s)); d > math.Max(16, math.Abs(float64(s))/16) {
			t.Fatalf("round trip of %d gave %d", s, got)
		}
	}
}

func TestProbeDetect(t *testing.T) {
	for _, tone := range []float64{1000, 2300, 440} {
		ps := newProbeSet(tone)
		frame := make([]int16, frameSamples)
		for k := range 3 {
			ps.fill(frame, k)
			// through μ-law, as it travels
			for i, s := range frame {
				frame[i] = ulawDecode(ulawEncode(s))
			}
			if got := ps.detect(frame); got != k {
				t.Errorf("tone %v: probe %d detected as %d", tone, k, got)
			}
		}
		src := Tone(tone).source()
		for range 10 {
			src.next(frame)
			if got := ps.detect(frame); got != -1 {
				t.Errorf("tone %v frame detected as probe %d", tone, got)
			}
		}
		clear(frame)
		if got := ps.detect(frame); got != -1 {
			t.Errorf("silence detected as probe %d", got)
		}
	}
}

func TestRxStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 20 * time.Millisecond) }
	var s rxStats
	// 0..9 on time, 10 and 11 lost, 12..19; a duplicate of 19
	for i := range 20 {
		if i == 10 || i == 11 {
			continue
		}
		s.add(1, uint16(i), uint32(i*160), 8000, 172, at(i))
	}
	s.add(1, 19, 19*160, 8000, 172, at(19))
	exp, lost := s.expectedLost()
	if exp != 20 || lost != 1 || s.packets != 19 { // 20 expected, 19 received (one duplicate) => lost 1
		t.Errorf("expected %d lost %d packets %d", exp, lost, s.packets)
	}
	if s.lastJitterMS > 0.001 {
		t.Errorf("jitter %v ms for perfect pacing", s.lastJitterMS)
	}

	// wrap-around and a new SSRC
	var w rxStats
	for i := range 10 {
		w.add(7, uint16(65530+i), uint32(i*160), 8000, 172, at(i))
	}
	exp, lost = w.expectedLost()
	if exp != 10 || lost != 0 {
		t.Errorf("wrap: expected %d lost %d", exp, lost)
	}
	for i := range 5 {
		if i == 2 {
			continue
		}
		w.add(8, uint16(100+i), uint32(i*160), 8000, 172, at(20+i))
	}
	exp, lost = w.expectedLost()
	if exp != 15 || lost != 1 || w.streams != 2 {
		t.Errorf("new ssrc: expected %d lost %d streams %d", exp, lost, w.streams)
	}
	if pct := w.lossPct(); math.Abs(pct-100.0/15) > 0.01 {
		t.Errorf("loss %v%%", pct)
	}

	// jitter: every other packet 10 ms late
	var j rxStats
	for i := range 200 {
		a := at(i)
		if i%2 == 1 {
			a = a.Add(10 * time.Millisecond)
		}
		j.add(1, uint16(i), uint32(i*160), 8000, 172, a)
	}
	if j.lastJitterMS < 8 || j.lastJitterMS > 11 {
		t.Errorf("jitter %v ms, want about 10", j.lastJitterMS)
	}
}

func wavBytes(rate uint32, channels, bits uint16, samples []int16) []byte {
	var data bytes.Buffer
	for _, s := range samples {
		for range channels {
			_ = binary.Write(&data, binary.LittleEndian, s)
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+data.Len()))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, binary.LittleEndian, uint32(16))
	_ = binary.Write(&b, binary.LittleEndian, uint16(1))
	_ = binary.Write(&b, binary.LittleEndian, channels)
	_ = binary.Write(&b, binary.LittleEndian, rate)
	_ = binary.Write(&b, binary.LittleEndian, rate*uint32(channels)*uint32(bits/8))
	_ = binary.Write(&b, binary.LittleEndian, channels*bits/8)
	_ = binary.Write(&b, binary.LittleEndian, bits)
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

func TestWAV(t *testing.T) {
	// one second of 1 kHz at 48 kHz stereo: 8000 samples of 1 kHz at 8 kHz
	in := make([]int16, 48000)
	for i := range in {
		in[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/48000))
	}
	a, err := WAV(bytes.NewReader(wavBytes(48000, 2, 16, in)))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.samples) != 8000 {
		t.Errorf("%d samples, want 8000", len(a.samples))
	}
	frame := a.samples[1000 : 1000+frameSamples]
	var total float64
	for _, s := range frame {
		total += float64(s) * float64(s)
	}
	if p := goertzel(frame, 1000) / total; p < 0.8*frameSamples/2 {
		t.Errorf("resampled tone lost its frequency: ratio %v", p)
	}
	// 8 kHz mono passes unchanged
	a, err = WAV(bytes.NewReader(wavBytes(8000, 1, 16, in[:800])))
	if err != nil || len(a.samples) != 800 || a.samples[5] != in[5] {
		t.Errorf("8 kHz: %v, %d samples", err, len(a.samples))
	}
	if _, err := WAV(bytes.NewReader(wavBytes(8000, 1, 8, in[:800]))); !errors.Is(err, ErrWAVUnsupported) {
		t.Errorf("8-bit: %v", err)
	}
	if _, err := WAV(bytes.NewReader([]byte("not a wav file at all"))); !errors.Is(err, ErrWAVFormat) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := WAVFile("/nonexistent.wav"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRTTFromReport(t *testing.T) {
	now := time.Now()
	sent := now.Add(-130 * time.Millisecond)
	dlsr := uint32(30 * 65536 / 1000) // the far end held our SR 30 ms
	d, ok := rttFromReport(rtcp.ReceptionReport{LastSenderReport: ntpMiddle(sent), Delay: dlsr}, now)
	if !ok || d < 99*time.Millisecond || d > 101*time.Millisecond {
		t.Errorf("rtt %v %v, want 100ms", d, ok)
	}
	if _, ok := rttFromReport(rtcp.ReceptionReport{}, now); ok {
		t.Error("rtt from a report without LSR")
	}
}
