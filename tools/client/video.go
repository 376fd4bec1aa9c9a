package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// Video is what a call does with video. The zero value is no video: the
// call offers and accepts audio only. ReceiveVideo offers or accepts video
// (VP8, H.264) and only receives; VideoFile also sends an IVF file in a
// loop. There is no encoder: no maintained pure-Go VP8 or H.264 encoder
// exists, so a test pattern cannot be generated (see README).
type Video struct {
	enabled bool
	prefer  string // preferred codec when there is no file
	file    *videoFile
}

// ReceiveVideo offers or accepts video, preferring prefer (CodecVP8 when
// empty, or CodecH264), without sending any.
func ReceiveVideo(prefer string) Video {
	return Video{enabled: true, prefer: prefer}
}

// Enabled reports whether the call offers or accepts video.
func (v Video) Enabled() bool { return v.enabled }

func (v Video) codec() string {
	if v.file != nil {
		return v.file.codec
	}
	return v.prefer
}

// String describes the video for reports.
func (v Video) String() string {
	switch {
	case !v.enabled:
		return ""
	case v.file != nil:
		return fmt.Sprintf("%s %s %dx%d", v.file.name, v.file.codec, v.file.width, v.file.height)
	default:
		return "receive only"
	}
}

// videoFile is an IVF file in memory: its frames and their durations.
type videoFile struct {
	name          string
	codec         string // CodecVP8 or CodecH264
	width, height int
	frames        [][]byte
	durations     []time.Duration
}

// maxVideoFile bounds what VideoFile reads into memory.
const maxVideoFile = 64 << 20

// ErrVideoFormat is returned for a video file the client cannot send.
var ErrVideoFormat = errors.New("not an IVF file of VP8 or H.264")

// VideoFile reads an IVF file (VP8, fourcc VP80, or H.264 Annex B access
// units, fourcc H264) to send in a loop, at the pace of its timestamps. Its
// first frame must be a key frame: a key frame request from the far end
// restarts the file.
func VideoFile(path string) (Video, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Video{}, fmt.Errorf("client: video: %w", err)
	}
	f, err := parseIVF(b)
	if err != nil {
		return Video{}, fmt.Errorf("client: video %s: %w", path, err)
	}
	f.name = path
	return Video{enabled: true, file: f}, nil
}

// parseIVF reads an IVF file: a 32-byte header ("DKIF", version, header
// size, fourcc, width, height, timebase denominator and numerator, frame
// count), then frames, each a 12-byte header (size, presentation time in
// timebase units) and the frame.
func parseIVF(b []byte) (*videoFile, error) {
	if len(b) > maxVideoFile {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrVideoFormat, maxVideoFile>>20)
	}
	if len(b) < 32 || string(b[:4]) != "DKIF" {
		return nil, fmt.Errorf("%w: no IVF header", ErrVideoFormat)
	}
	le := binary.LittleEndian
	hdrSize := int(le.Uint16(b[6:8]))
	f := &videoFile{width: int(le.Uint16(b[12:14])), height: int(le.Uint16(b[14:16]))}
	switch fourcc := strings.ToUpper(string(b[8:12])); fourcc {
	case "VP80":
		f.codec = CodecVP8
	case "H264":
		f.codec = CodecH264
	default:
		return nil, fmt.Errorf("%w: fourcc %q", ErrVideoFormat, fourcc)
	}
	den, num := le.Uint32(b[16:20]), le.Uint32(b[20:24])
	if den == 0 || num == 0 || hdrSize < 32 || hdrSize > len(b) {
		return nil, fmt.Errorf("%w: bad header", ErrVideoFormat)
	}
	tick := time.Duration(float64(time.Second) * float64(num) / float64(den))
	var stamps []uint64
	for rest := b[hdrSize:]; len(rest) >= 12; {
		size := le.Uint32(rest[0:4])
		if uint64(size) > uint64(len(rest)-12) {
			break // a truncated last frame
		}
		f.frames = append(f.frames, rest[12:12+size])
		stamps = append(stamps, le.Uint64(rest[4:12]))
		rest = rest[12+size:]
	}
	if len(f.frames) == 0 {
		return nil, fmt.Errorf("%w: no frames", ErrVideoFormat)
	}
	if f.codec == CodecVP8 {
		if info := vp8FrameInfo(f.frames[0]); !info.key {
			return nil, fmt.Errorf("%w: the first frame is not a key frame", ErrVideoFormat)
		}
	}
	for i := range stamps {
		d := tick
		if i+1 < len(stamps) && stamps[i+1] > stamps[i] {
			d = time.Duration(stamps[i+1]-stamps[i]) * tick
		}
		f.durations = append(f.durations, min(max(d, time.Millisecond), time.Second))
	}
	return f, nil
}

// videoTrack is the sending video track: it binds to the file's codec when
// the far end took it (and to any video codec otherwise, so that the call
// goes on receiving; nothing is sent then).
type videoTrack struct {
	id, streamID string
	src          *videoFile
	boundTrack
	keyAsked bool // guarded by mu
}

func (t *videoTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return t.bind(ctx, videoCodecOrder(t.src.codec))
}

// keyFrameRequested notes a PLI or FIR: the file restarts at its key frame.
func (t *videoTrack) keyFrameRequested() {
	t.mu.Lock()
	t.keyAsked = true
	t.mu.Unlock()
}

func (t *videoTrack) takeKeyRequest() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keyAsked
	t.keyAsked = false
	return k
}

func (t *videoTrack) ID() string                { return t.id }
func (t *videoTrack) RID() string               { return "" }
func (t *videoTrack) StreamID() string          { return t.streamID }
func (t *videoTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

// minKeyRestart is the least time between two restarts of the file for key
// frame requests.
const minKeyRestart = 500 * time.Millisecond

// sendVideo sends the file's frames in a loop until the media stops.
func (l *leg) sendVideo() {
	m, call, f := l.m, l.m.call, l.video.src
	b := l.video.binding()
	if b.w == nil {
		return
	}
	if !strings.EqualFold(b.codec, f.codec) {
		call.videoFailed(fmt.Errorf("the video file is %s, the far end chose %s: not sending", f.codec, b.codec))
		return
	}
	var payloader rtp.Payloader = &codecs.VP8Payloader{EnablePictureID: true}
	if f.codec == CodecH264 {
		payloader = &codecs.H264Payloader{}
	}
	pk := rtp.NewPacketizer(1200, b.pt, b.ssrc, payloader, rtp.NewRandomSequencer(), 90000)
	t := time.NewTimer(0)
	defer t.Stop()
	i := 0
	lastRestart := time.Now()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		if l.video.takeKeyRequest() && i != 0 && time.Since(lastRestart) >= minKeyRestart {
			i, lastRestart = 0, time.Now()
		}
		d := f.durations[i]
		t.Reset(d)
		samples := uint32(d * 90000 / time.Second)
		size := 0
		pkts := pk.Packetize(f.frames[i], samples)
		for _, p := range pkts {
			if b := l.video.binding(); b.w == nil {
				return
			}
			if _, err := b.w.WriteRTP(&p.Header, p.Payload); err != nil {
				break
			}
			size += p.MarshalSize()
		}
		call.countVideoSent(len(pkts), size)
		i = (i + 1) % len(f.frames)
	}
}

// pliInterval is how often a receiver that has not seen a key frame asks
// for one.
const pliInterval = time.Second

// receiveVideo counts the far end's video: packets, frames, key frames,
// the resolution of key frames. It asks for a key frame (PLI) until one
// comes.
func (l *leg) receiveVideo(t *webrtc.TrackRemote) {
	m, call := l.m, l.m.call
	codec := codecName(t.Codec().MimeType)
	ssrc := uint32(t.SSRC())
	askKey := func() {
		_ = l.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
	askKey()
	lastAsk := time.Now()
	for {
		p, ok := m.readRTP(t)
		if !ok {
			return
		}
		now := time.Now()
		if !call.countVideoReceived(p, codec, now) && now.Sub(lastAsk) >= pliInterval {
			askKey()
			lastAsk = now
		}
	}
}

// sending names the file sent, for reports.
func (v Video) sending() string {
	if v.file == nil {
		return ""
	}
	return v.file.name
}
