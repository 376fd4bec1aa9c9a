package client

import (
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"xccrtc/tools/client/vertotest"
)

const (
	vp8File  = "../../testdata/video/testsrc-160x120-vp8.ivf"
	h264File = "../../testdata/video/testsrc-176x144-h264.ivf"
)

// Video both ways with the fake FreeSWITCH: the client sends an IVF file
// on its own transport, the far end echoes it, the client counts frames,
// key frames and reads the picture size.
func TestVideoEcho(t *testing.T) {
	for _, tc := range []struct {
		file, codec   string
		width, height int
	}{
		{vp8File, CodecVP8, 160, 120},
		{h264File, CodecH264, 176, 144},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			ctx := start(t, 30*time.Second)
			srv := newServer(t, vertotest.Config{})
			v, err := VideoFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			_, call, ev := answeredCall(t, ctx, srv, "9196", CallOptions{Video: v})
			if err := call.WaitVideo(ctx, 10); err != nil {
				t.Fatalf("no video back: %v (%s)", err, call.Report())
			}
			if err := call.WaitReceived(ctx, 10); err != nil {
				t.Fatal(err)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r := call.Report()
			t.Logf("report:\n%s", r)
			vr := r.Video
			if vr == nil || vr.Codec != tc.codec || vr.Width != tc.width || vr.Height != tc.height ||
				vr.FramesSent == 0 || vr.PacketsReceived == 0 || vr.Error != "" || vr.Sending != tc.file {
				t.Errorf("video report %+v", vr)
			}
			if !ev.has(EventVideoUp) {
				t.Error("no video-up event")
			}
		})
	}
}

// A far end without video refuses the section: the call goes on with audio,
// the report says why there is no video.
func TestVideoRefused(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NoVideo: true})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "9196", CallOptions{Video: ReceiveVideo(CodecVP8)})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitReceived(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	if r.Video == nil || r.Video.Error == "" || r.Video.FramesReceived != 0 || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("report %+v video %+v", r, r.Video)
	}
}

// A call from the server with video (originate with video): the client
// answers audio and video, each on its own peer connection.
func TestVideoIncoming(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	if _, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{Video: true}); err != nil {
		t.Fatal(err)
	}
	call := <-c.Incoming()
	v, err := VideoFile(vp8File)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Answer(ctx, CallOptions{Video: v}); err != nil {
		t.Fatal(err)
	}
	if err := call.WaitVideo(ctx, 1); err != nil {
		t.Fatalf("no video: %v (%s)", err, call.Report())
	}
	// The far end counts a packet as echoed after its write returns, which
	// may be after the client has read it: wait for the count.
	for {
		ci, _ := srv.CallInfo(call.ID())
		if ci.VideoEchoed > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server never counted an echoed video packet: %+v", ci)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestVideoFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty":    nil,
		"text":     []byte("not a video"),
		"vp9":      append([]byte("DKIF\x00\x00\x20\x00VP90\xa0\x00\x78\x00\x0f\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0),
		"noframes": []byte("DKIF\x00\x00\x20\x00VP80\xa0\x00\x78\x00\x0f\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	} {
		p := dir + "/" + name + ".ivf"
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := VideoFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := VideoFile(dir + "/missing.ivf"); err == nil {
		t.Error("missing file accepted")
	}
}

// The packet readers find key frames and picture sizes in the fixtures'
// frames as pion's payloaders packetize them.
func TestVideoPacketInfo(t *testing.T) {
	for _, tc := range []struct {
		file          string
		payloader     rtp.Payloader
		info          func([]byte) frameInfo
		width, height int
	}{
		{vp8File, &codecs.VP8Payloader{EnablePictureID: true}, vp8PacketInfo, 160, 120},
		{h264File, &codecs.H264Payloader{}, h264PacketInfo, 176, 144},
	} {
		v, err := VideoFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if d := v.file.durations[0]; len(v.file.frames) != 30 || d < 66*time.Millisecond || d > 67*time.Millisecond {
			t.Errorf("%s: %d frames, first lasts %s; want 30 at 15/s", tc.file, len(v.file.frames), d)
		}
		keys := 0
		for i, f := range v.file.frames {
			key := false
			for _, p := range tc.payloader.Payload(1200, f) {
				in := tc.info(p)
				key = key || in.key
				if in.width != 0 && (in.width != tc.width || in.height != tc.height) {
					t.Errorf("%s frame %d: %dx%d", tc.file, i, in.width, in.height)
				}
			}
			if key {
				keys++
			}
			if i == 0 && !key {
				t.Errorf("%s: first frame not seen as a key frame", tc.file)
			}
		}
		if keys != 2 { // 30 frames, a key frame every 15
			t.Errorf("%s: %d key frames, want 2", tc.file, keys)
		}
	}
}

// FuzzVideoPacketInfo: the readers take any payload without a panic.
func FuzzVideoPacketInfo(f *testing.F) {
	f.Add([]byte{0x90, 0x80, 0x01, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xa0, 0x00, 0x78, 0x00})
	f.Add([]byte{0x18, 0x00, 0x0a, 0x67, 0x42, 0xc0, 0x0b, 0xda, 0x0b, 0x13, 0xb0, 0x11, 0x00})
	f.Add([]byte{0x7c, 0x85, 0x88})
	f.Fuzz(func(t *testing.T, p []byte) {
		_ = vp8PacketInfo(p)
		_ = h264PacketInfo(p)
		if len(p) > 0 {
			_, _, _ = spsSize(p[1:])
		}
	})
}
