package client

import (
	"math"
	"time"
)

// mosEstimate is a listening-quality MOS estimated with the E-model (ITU-T
// G.107) from what the client measured: packet loss, jitter and, when
// known, the network round trip.
//
//   - Equipment impairment Ie and packet-loss robustness Bpl from ITU-T
//     G.113 Appendix I: G.711 Ie 0, Bpl 25.1 (with packet loss
//     concealment, as FreeSWITCH and browsers do); opus is taken as G.711
//     (G.113 has no figures for it; its wideband quality is not modelled).
//   - Loss taken as random (BurstR 1): Ie,eff = Ie + (95 - Ie) * Ppl /
//     (Ppl + Bpl).
//   - One-way delay Ta: half the network round trip (0 when unknown) plus a
//     jitter buffer of twice the jitter plus one packet (20 ms);
//     Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3).
//   - R = 93.2 - Id - Ie,eff, and MOS from R (G.107 Annex B).
//
// A perfect G.711 call scores 4.41. The figure is an estimate for
// comparing runs, not a measurement of audio quality.
func mosEstimate(lossPct, jitterMS float64, rtt time.Duration) float64 {
	ie, bpl := 0.0, 25.1
	ppl := math.Max(0, math.Min(100, lossPct))
	ieEff := ie + (95-ie)*ppl/(ppl+bpl)
	ta := float64(rtt)/float64(time.Millisecond)/2 + 2*jitterMS + frameDuration
	id := 0.024 * ta
	if ta > 177.3 {
		id += 0.11 * (ta - 177.3)
	}
	return mosFromR(93.2 - id - ieEff)
}

// mosFromR converts an E-model rating to MOS (ITU-T G.107 Annex B).
func mosFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return math.Round((1+0.035*r+r*(r-60)*(100-r)*7e-6)*100) / 100
}
