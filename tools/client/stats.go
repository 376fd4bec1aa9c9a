package client

import (
	"math"
	"time"

	"github.com/pion/rtp"
)

// rxStream counts one received RTP stream the way RFC 3550 appendix A does:
// extended highest sequence number (A.1), expected and lost packets (A.3) and
// interarrival jitter (A.8), in the stream's clock.
type rxStream struct {
	clock float64 // Hz

	started   bool
	ssrc      uint32
	baseSeq   uint32
	maxSeq    uint16
	cycles    uint32
	received  uint64
	lastArr   time.Time
	lastTS    uint32
	jitter    float64 // in clock units
	haveTrans bool
}

// maxDropout and maxMisorder are RFC 3550 A.1's limits.
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// rxStats is everything received on one call, across streams: a new SSRC, a
// sequence jump or a new peer connection after a reload starts a new stream,
// and the finished ones are folded into the totals.
type rxStats struct {
	packets, bytes       uint64
	doneExpected         uint64
	doneReceived         uint64
	cur                  rxStream
	maxJitter            float64 // ms, over all streams
	firstAt, lastPacket  time.Time
	maxGap               time.Duration // longest time between two packets
	streams              int
	lastJitterMS         float64
	duplicatesOrReorders uint64
}

// add counts one packet of size bytes (RTP header and payload) that arrived
// at arr.
func (s *rxStats) add(ssrc uint32, seq uint16, ts uint32, clock uint32, size int, arr time.Time) {
	s.packets++
	s.bytes += uint64(size)
	if s.firstAt.IsZero() {
		s.firstAt = arr
	} else if g := arr.Sub(s.lastPacket); g > s.maxGap {
		s.maxGap = g
	}
	s.lastPacket = arr
	st := &s.cur
	if !st.started || st.ssrc != ssrc {
		s.newStream(ssrc, seq, ts, clock, arr)
		return
	}
	udelta := seq - st.maxSeq
	switch {
	case udelta == 0:
		s.duplicatesOrReorders++
		st.received++
		return
	case udelta < maxDropout:
		if seq < st.maxSeq {
			st.cycles += 1 << 16
		}
		st.maxSeq = seq
	case udelta <= 1<<16-maxMisorder:
		// a jump: the sender restarted its sequence
		s.newStream(ssrc, seq, ts, clock, arr)
		return
	default:
		// late or duplicate packet: counted as received, not for jitter
		s.duplicatesOrReorders++
		st.received++
		return
	}
	st.received++
	// A.8: D(i,j) = (Rj - Ri) - (Sj - Si), in timestamp units. A jump of
	// more than a second (the sender reset its timestamps: a re-attach, a
	// bridge) re-synchronises instead of counting as jitter.
	d := arr.Sub(st.lastArr).Seconds()*st.clock - float64(int32(ts-st.lastTS))
	st.lastArr, st.lastTS = arr, ts
	if math.Abs(d) > st.clock {
		return
	}
	st.jitter += (math.Abs(d) - st.jitter) / 16
	if j := st.jitter / st.clock * 1000; j > s.maxJitter {
		s.maxJitter = j
	}
	s.lastJitterMS = st.jitter / st.clock * 1000
}

func (s *rxStats) newStream(ssrc uint32, seq uint16, ts uint32, clock uint32, arr time.Time) {
	s.fold()
	if clock == 0 {
		clock = sampleRate
	}
	s.cur = rxStream{
		clock: float64(clock), started: true, ssrc: ssrc,
		baseSeq: uint32(seq), maxSeq: seq, received: 1,
		lastArr: arr, lastTS: ts,
	}
	s.streams++
}

// fold moves the current stream into the totals.
func (s *rxStats) fold() {
	if !s.cur.started {
		return
	}
	s.doneExpected += s.cur.expected()
	s.doneReceived += s.cur.received
	s.cur = rxStream{}
}

func (st *rxStream) expected() uint64 {
	if !st.started {
		return 0
	}
	return uint64(st.cycles) + uint64(st.maxSeq) - uint64(st.baseSeq) + 1
}

// expectedLost returns the packets expected and lost over all streams. Lost
// can be negative with duplicates (RFC 3550); it is reported as is, and the
// loss percentage is clamped at zero.
func (s *rxStats) expectedLost() (expected uint64, lost int64) {
	expected = s.doneExpected + s.cur.expected()
	received := s.doneReceived + s.cur.received
	return expected, int64(expected) - int64(received)
}

// lossPct is lost/expected in percent.
func (s *rxStats) lossPct() float64 {
	exp, lost := s.expectedLost()
	if exp == 0 || lost <= 0 {
		return 0
	}
	return float64(lost) * 100 / float64(exp)
}

// videoStats is what a call received and sent as video.
type videoStats struct {
	codec                              string
	rx                                 rxStats
	frames, keyFrames                  uint64
	lastTS, lastKeyTS                  uint32
	haveKeyTS                          bool
	width, height                      int
	sentPackets, sentBytes, sentFrames uint64
	err                                error
}

// add counts one received video packet: a new RTP timestamp is a new frame;
// the first packet of a key frame counts a key frame and, for VP8 key
// frames and H.264 SPS, gives the picture size. It reports whether a key
// frame has been seen.
func (v *videoStats) add(p *rtp.Packet, codec string, now time.Time) bool {
	v.codec = codec
	first := v.rx.packets == 0
	v.rx.add(p.SSRC, p.SequenceNumber, p.Timestamp, 90000, p.MarshalSize(), now)
	if first || p.Timestamp != v.lastTS {
		v.frames++
		v.lastTS = p.Timestamp
	}
	var info frameInfo
	switch codec {
	case CodecVP8:
		info = vp8PacketInfo(p.Payload)
	case CodecH264:
		info = h264PacketInfo(p.Payload)
	}
	if info.key && (!v.haveKeyTS || v.lastKeyTS != p.Timestamp) {
		v.keyFrames++
		v.lastKeyTS, v.haveKeyTS = p.Timestamp, true
	}
	if info.width > 0 && info.height > 0 {
		v.width, v.height = info.width, info.height
	}
	return v.keyFrames > 0
}

// report is the video part of a call's report.
func (v *videoStats) report(sending string) *VideoReport {
	exp, lost := v.rx.expectedLost()
	r := &VideoReport{
		Codec: v.codec, Sending: sending,
		PacketsSent: v.sentPackets, BytesSent: v.sentBytes, FramesSent: v.sentFrames,
		PacketsReceived: v.rx.packets, BytesReceived: v.rx.bytes,
		PacketsExpected: exp, PacketsLost: lost, LossPct: round1(v.rx.lossPct()*10) / 10,
		FramesReceived: v.frames, KeyFramesReceived: v.keyFrames, Width: v.width, Height: v.height,
	}
	if span := v.rx.lastPacket.Sub(v.rx.firstAt).Seconds(); v.frames > 1 && span > 0 {
		r.FPS = round1(float64(v.frames-1) / span)
	}
	if v.err != nil {
		r.Error = v.err.Error()
	}
	return r
}
