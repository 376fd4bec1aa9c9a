package client

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Report is what one call did. Every figure is measured by this client:
//
//   - SetupMS: outbound, from Call() to the server's verto.answer (ICE
//     gathering, invite, ringing and answer); inbound, from Answer() to the
//     server's reply to verto.answer (so any answer delay is not counted).
//   - FirstRTPMS: from the same start to the first RTP packet received.
//   - RTPPacketsSent/RTPBytesSent: RTP packets handed to SRTP, bytes of RTP
//     header and payload (no SRTP tag, UDP or IP).
//   - RTPPacketsReceived/RTPBytesReceived: likewise for what arrived.
//   - RTPPacketsExpected/RTPPacketsLost/LossPct: from sequence numbers
//     (RFC 3550 A.3), summed over streams (a reload starts a new one); loss
//     is the far end's sending plus the network, as seen here.
//   - JitterMS: RFC 3550 interarrival jitter of the last stream, in ms;
//     MaxJitterMS the highest value seen.
//   - RTTMS: audio round trip, the median over probes: from writing a probe
//     burst into RTP to finding it in the received audio. Only when the far
//     end echoes and PCMU is used; it includes the far end's buffering.
//   - NetworkRTTMS: the last round trip from RTCP receiver reports (LSR and
//     DLSR of our sender reports), when the far end sends them.
//   - MaxMediaGapMS: the longest time without received audio RTP between
//     the answer and the end (or now): a hold, a re-attach after a reload
//     or a reconnect, a network outage. The whole call when nothing came.
//   - MOS: an E-model estimate from loss, jitter and round trip (see
//     mosEstimate), when audio was received.
type Report struct {
	CallID      string `json:"call_id"`
	NodeUUID    string `json:"node_uuid,omitempty"`
	Direction   string `json:"direction"`
	Destination string `json:"destination,omitempty"`
	Codec       string `json:"codec,omitempty"`
	Audio       string `json:"audio,omitempty"`
	Answered    bool   `json:"answered"`

	SetupMS    float64 `json:"setup_ms"`
	FirstRTPMS float64 `json:"first_rtp_ms,omitempty"`
	DurationMS float64 `json:"duration_ms"`

	RTPPacketsSent     uint64  `json:"rtp_packets_sent"`
	RTPBytesSent       uint64  `json:"rtp_bytes_sent"`
	RTPPacketsReceived uint64  `json:"rtp_packets_received"`
	RTPBytesReceived   uint64  `json:"rtp_bytes_received"`
	RTPPacketsExpected uint64  `json:"rtp_packets_expected"`
	RTPPacketsLost     int64   `json:"rtp_packets_lost"`
	LossPct            float64 `json:"loss_pct"`
	JitterMS           float64 `json:"jitter_ms"`
	MaxJitterMS        float64 `json:"max_jitter_ms"`
	RTTMS              float64 `json:"rtt_ms,omitempty"`
	RTTSamples         int     `json:"rtt_samples,omitempty"`
	NetworkRTTMS       float64 `json:"network_rtt_ms,omitempty"`
	MaxMediaGapMS      float64 `json:"max_media_gap_ms"`
	MOS                float64 `json:"mos,omitempty"`

	DTMFSent string `json:"dtmf_sent,omitempty"`
	Holds    int    `json:"holds,omitempty"`

	HangupCause     string `json:"hangup_cause"`
	HangupCauseCode int    `json:"hangup_cause_code"`
	EndedBy         string `json:"ended_by,omitempty"`
	Reloads         int    `json:"reloads"`
	Reconnects      int    `json:"reconnects"`
	Reattached      int    `json:"reattached"`
	Error           string `json:"error,omitempty"`

	Video *VideoReport `json:"video,omitempty"`
}

// VideoReport is the video of a call: what was sent (from a file) and
// received, counted from RTP without decoding. Frames are RTP timestamps;
// key frames and the picture size come from the VP8 payload header and key
// frame header (RFC 7741, RFC 6386) or the H.264 NAL units and sequence
// parameter set.
type VideoReport struct {
	Codec             string  `json:"codec,omitempty"`
	Sending           string  `json:"sending,omitempty"` // the file sent
	PacketsSent       uint64  `json:"packets_sent"`
	BytesSent         uint64  `json:"bytes_sent"`
	FramesSent        uint64  `json:"frames_sent"`
	PacketsReceived   uint64  `json:"packets_received"`
	BytesReceived     uint64  `json:"bytes_received"`
	PacketsExpected   uint64  `json:"packets_expected"`
	PacketsLost       int64   `json:"packets_lost"`
	LossPct           float64 `json:"loss_pct"`
	FramesReceived    uint64  `json:"frames_received"`
	KeyFramesReceived uint64  `json:"key_frames_received"`
	Width             int     `json:"width,omitempty"`
	Height            int     `json:"height,omitempty"`
	FPS               float64 `json:"fps,omitempty"`
	Error             string  `json:"error,omitempty"`
}

// Who ended a call (Report.EndedBy).
const (
	EndedByRemote = "remote" // the server sent verto.bye
	EndedByLocal  = "local"  // Hangup or Reject
	EndedByPunt   = "punt"   // verto.punt
	EndedBySocket = "socket" // the WebSocket closed
	EndedByReload = "reload" // not re-attached after a reload
	EndedByError  = "error"  // the invite or answer failed
	EndedByClose  = "close"  // Client.Close with the call up
)

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// median returns the median of v (v is sorted in place).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// String is the human summary of the report.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "call %s (%s", r.CallID, r.Direction)
	if r.Destination != "" {
		fmt.Fprintf(&b, " %s", r.Destination)
	}
	b.WriteString(")")
	if r.NodeUUID != "" {
		fmt.Fprintf(&b, " node %s", r.NodeUUID)
	}
	b.WriteString("\n")
	if r.Answered {
		fmt.Fprintf(&b, "  setup %.1f ms, first RTP %.1f ms, up %.1f s, codec %s, audio %s\n",
			r.SetupMS, r.FirstRTPMS, r.DurationMS/1000, r.Codec, r.Audio)
	} else {
		b.WriteString("  not answered\n")
	}
	fmt.Fprintf(&b, "  sent     %d RTP packets, %d bytes\n", r.RTPPacketsSent, r.RTPBytesSent)
	fmt.Fprintf(&b, "  received %d RTP packets, %d bytes; expected %d, lost %d (%.2f%%)\n",
		r.RTPPacketsReceived, r.RTPBytesReceived, r.RTPPacketsExpected, r.RTPPacketsLost, r.LossPct)
	fmt.Fprintf(&b, "  jitter %.2f ms (max %.2f ms)", r.JitterMS, r.MaxJitterMS)
	if r.RTTSamples > 0 {
		fmt.Fprintf(&b, ", audio round trip %.1f ms (%d probes)", r.RTTMS, r.RTTSamples)
	} else {
		b.WriteString(", audio round trip n/a (no echo detected)")
	}
	if r.NetworkRTTMS > 0 {
		fmt.Fprintf(&b, ", RTCP round trip %.1f ms", r.NetworkRTTMS)
	}
	b.WriteString("\n")
	if r.Answered {
		fmt.Fprintf(&b, "  longest media gap %.1f ms", r.MaxMediaGapMS)
		if r.MOS > 0 {
			fmt.Fprintf(&b, ", MOS estimate %.2f", r.MOS)
		}
		b.WriteString("\n")
	}
	if v := r.Video; v != nil {
		fmt.Fprintf(&b, "  video %s: sent %d frames (%d packets), received %d packets, %d frames, %d key frames",
			orDash(v.Codec), v.FramesSent, v.PacketsSent, v.PacketsReceived, v.FramesReceived, v.KeyFramesReceived)
		if v.Width > 0 {
			fmt.Fprintf(&b, ", %dx%d", v.Width, v.Height)
		}
		if v.FPS > 0 {
			fmt.Fprintf(&b, ", %.1f fps", v.FPS)
		}
		fmt.Fprintf(&b, ", lost %d (%.2f%%)", v.PacketsLost, v.LossPct)
		if v.Error != "" {
			fmt.Fprintf(&b, "; %s", v.Error)
		}
		b.WriteString("\n")
	}
	if r.DTMFSent != "" || r.Holds > 0 || r.Reloads > 0 || r.Reconnects > 0 || r.Reattached > 0 {
		fmt.Fprintf(&b, "  dtmf %q, holds %d, reloads %d, reconnects %d, re-attached %d\n",
			r.DTMFSent, r.Holds, r.Reloads, r.Reconnects, r.Reattached)
	}
	fmt.Fprintf(&b, "  hang-up %s (%d)", orDash(r.HangupCause), r.HangupCauseCode)
	if r.EndedBy != "" {
		fmt.Fprintf(&b, " by %s", r.EndedBy)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "; error: %s", r.Error)
	}
	b.WriteString("\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
