package main

import (
	"strings"
	"testing"

	"xccrtc/tools/client/vertotest"
)

// QA expectations: the exit code says whether they held, and one line on
// stderr says what did not.
func TestExpectations(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	for _, tc := range []struct {
		name string
		args []string
		code int
		line string // in stderr when the run fails
	}{
		{"busy expected", []string{"call", "busy", "--expect-cause", "USER_BUSY"}, exitOK, ""},
		{"busy by number", []string{"call", "busy", "--expect-cause", "17"}, exitOK, ""},
		{"busy not expected", []string{"call", "busy"}, exitFailure, "not answered (USER_BUSY)"},
		{"wrong cause", []string{"call", "9196", "--duration", "300ms", "--expect-cause", "USER_BUSY"}, exitFailure,
			"hang-up cause NORMAL_CLEARING, expected USER_BUSY"},
		{"too few packets", []string{"call", "9196", "--duration", "300ms", "--expect-min-rx", "100000"}, exitFailure,
			"audio packets received, expected at least 100000"},
		{"no video", []string{"call", "9196", "--duration", "300ms", "--expect-video"}, exitFailure, "no video (not offered"},
		{"all met", []string{"call", "9196", "--duration", "4s", "--expect-min-rx", "20", "--expect-max-loss", "1",
			"--expect-min-mos", "4", "--expect-echo", "--expect-max-gap", "1s", "--video-file", "../../testdata/video/testsrc-160x120-vp8.ivf",
			"--expect-video"}, exitOK, ""},
		{"bad cause", []string{"call", "9196", "--expect-cause", "NOPE"}, exitUsage, "unknown cause"},
		{"bad video codec", []string{"call", "9196", "--video", "--video-codec", "VP9"}, exitUsage, "--video-codec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, tc.args...), conn(srv.URL())...)
			code, out, errs := runCmd(ctx, append(args, "--json")...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errs)
			}
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			switch {
			case tc.line == "" && strings.TrimSpace(errs) != "":
				t.Errorf("stderr %q", errs)
			case tc.line != "" && (len(lines) != 1 || !strings.Contains(lines[0], tc.line)):
				t.Errorf("stderr %q, want one line with %q", errs, tc.line)
			}
		})
	}
}

func TestCallCommandVideo(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	args := append([]string{"call", "9196"}, conn(srv.URL())...)
	args = append(args, "--video-file", "../../testdata/video/testsrc-176x144-h264.ivf", "--duration", "1s", "--json", "--expect-video")
	code, out, errs := runCmd(ctx, args...)
	r := decode(t, out)
	v, _ := r["video"].(map[string]any)
	if code != exitOK || v["codec"] != "H264" || v["width"] != 176.0 || v["height"] != 144.0 || v["key_frames_received"].(float64) < 1 {
		t.Errorf("exit %d video %v\n%s", code, v, errs)
	}
}

// Several --url: the first instance dies mid-call, the client reconnects
// to the next with the same sessid and the call goes on.
func TestCallCommandFailover(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{NodeUUID: "node-9"})
	other := srv.AddListener()
	args := []string{"call", "9196", "--url", srv.URL(), "--url", other, "--login", user, "--passwd", passwd, "--ice-loopback", "-q",
		"--duration", "2500ms", "--json", "--expect-reattached", "1"}
	done := startCmd(ctx, args...)
	waitAnswered(t, ctx, srv)
	srv.StopListener(srv.URL())
	res := <-done
	r := decode(t, res.out)
	if res.code != exitOK || r["reconnects"] != 1.0 || r["reattached"] != 1.0 || r["hangup_cause"] != "NORMAL_CLEARING" ||
		r["max_media_gap_ms"].(float64) <= 0 {
		t.Errorf("exit %d report %v\n%s", res.code, r, res.err)
	}
}
