package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"xccrtc/tools/client"
	"xccrtc/verto"
)

// expectFlags are QA assertions on a call's report: a CI job runs the
// command and reads the exit code, and one line on stderr says what was
// not met.
type expectFlags struct {
	cause      string
	minRx      uint64
	maxLoss    float64
	minMOS     float64
	maxGap     time.Duration
	video      bool
	echo       bool
	reattached int
}

func (e *expectFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.cause, "expect-cause", "", "expect this hang-up `CAUSE` (name or number) instead of an answered call ending NORMAL_CLEARING")
	fs.Uint64Var(&e.minRx, "expect-min-rx", 0, "expect at least `N` audio RTP packets received")
	fs.Float64Var(&e.maxLoss, "expect-max-loss", -1, "expect at most `PCT` percent audio packet loss")
	fs.Float64Var(&e.minMOS, "expect-min-mos", 0, "expect at least this MOS estimate")
	fs.DurationVar(&e.maxGap, "expect-max-gap", 0, "expect no media gap longer than `D`")
	fs.BoolVar(&e.video, "expect-video", false, "expect video frames and a key frame received")
	fs.BoolVar(&e.echo, "expect-echo", false, "expect the audio to come back (round trip measured: an echo far end)")
	fs.IntVar(&e.reattached, "expect-reattached", 0, "expect the call re-attached at least `N` times (reload, reconnect, re-offer)")
}

// validate checks the flags' values.
func (e *expectFlags) validate() error {
	if e.cause == "" {
		return nil
	}
	c, ok := parseCause(e.cause)
	if !ok {
		return fmt.Errorf("--expect-cause: unknown cause %q", e.cause)
	}
	e.cause = c.String()
	return nil
}

// parseCause takes a cause name (any case) or number.
func parseCause(s string) (verto.Cause, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		c := verto.Cause(n)
		_, ok := verto.ParseCause(c.String())
		return c, ok
	}
	return verto.ParseCause(strings.ToUpper(s))
}

// failures lists what a report does not meet: with --expect-cause the
// cause decides alone (a busy test passes unanswered); without it the call
// must have been answered, got audio back and ended NORMAL_CLEARING. The
// other expectations add to that.
func (e *expectFlags) failures(r client.Report) []string {
	var out []string
	if e.cause != "" {
		if r.HangupCause != e.cause {
			out = append(out, fmt.Sprintf("hang-up cause %s, expected %s", orDash(r.HangupCause), e.cause))
		}
	} else {
		switch {
		case !r.Answered:
			out = append(out, fmt.Sprintf("not answered (%s)", orDash(r.HangupCause)))
		case r.RTPPacketsReceived == 0:
			out = append(out, "no audio received")
		}
		if r.Answered && r.HangupCause != "NORMAL_CLEARING" {
			out = append(out, fmt.Sprintf("hang-up cause %s, expected NORMAL_CLEARING", orDash(r.HangupCause)))
		}
	}
	if e.minRx > 0 && r.RTPPacketsReceived < e.minRx {
		out = append(out, fmt.Sprintf("%d audio packets received, expected at least %d", r.RTPPacketsReceived, e.minRx))
	}
	if e.maxLoss >= 0 && r.LossPct > e.maxLoss {
		out = append(out, fmt.Sprintf("loss %.2f%%, expected at most %.2f%%", r.LossPct, e.maxLoss))
	}
	if e.minMOS > 0 && r.MOS < e.minMOS {
		out = append(out, fmt.Sprintf("MOS %.2f, expected at least %.2f", r.MOS, e.minMOS))
	}
	if e.maxGap > 0 && r.MaxMediaGapMS > float64(e.maxGap)/float64(time.Millisecond) {
		out = append(out, fmt.Sprintf("media gap %.0f ms, expected at most %s", r.MaxMediaGapMS, e.maxGap))
	}
	if e.echo && r.RTTSamples == 0 {
		out = append(out, "no audio round trip (the audio did not come back)")
	}
	if e.reattached > 0 && r.Reattached < e.reattached {
		out = append(out, fmt.Sprintf("re-attached %d times, expected at least %d", r.Reattached, e.reattached))
	}
	if e.video {
		v := r.Video
		switch {
		case v == nil:
			out = append(out, "no video (not offered: add --video or --video-file)")
		case v.FramesReceived == 0:
			out = append(out, "no video received"+errSuffix(v.Error))
		case v.KeyFramesReceived == 0:
			out = append(out, fmt.Sprintf("%d video frames but no key frame received", v.FramesReceived))
		}
	}
	return out
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// verdict checks a report and, when it fails, says why on one line.
func (e *expectFlags) verdict(con *console, r client.Report) bool {
	f := e.failures(r)
	if len(f) == 0 {
		return true
	}
	id := r.CallID
	if len(id) > 8 {
		id = id[:8]
	}
	con.errorf("FAILED call %s to %s: %s", orDash(id), orDash(r.Destination), strings.Join(f, "; "))
	return false
}
