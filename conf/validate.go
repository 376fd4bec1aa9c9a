package conf

import (
	"fmt"
	"strings"
)

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// RequireDefault makes a missing "default" profile an error. Without it the
	// problem is a warning: dial strings that name no profile (xrtc/user@domain)
	// need a profile called "default".
	RequireDefault bool
	// Strict makes every warning an error (xrtc-conf validate --strict).
	Strict bool
}

// Validate returns every problem of the configuration at once, sorted by
// line.
//
// The configuration is as forgiving as mod_verto's, no more: a file
// mod_verto would load loads. Errors are only what the module cannot run
// with: a value of the wrong type or out of range, a duplicate profile, a
// file that is not an xcc-rtc.conf configuration (malformed XML fails
// earlier, in Load). Everything FreeSWITCH would skip or that only breaks
// some calls is a warning: unknown elements, params and attributes (with a
// did-you-mean), stray text, a param without a name or value, an empty
// value, a param set twice (the last one wins, as in FreeSWITCH), a profile
// without a name (ignored) or with one a dial string cannot carry, a
// profile without rtp-ip (its calls fail), no profile at all, a missing
// "default" profile, and mod_verto params that mean nothing to xrtc. Values
// that still hold $${name} references are checked only on a resolved
// Config.
func (c *Config) Validate(opts ValidateOptions) Problems {
	ps := append(Problems(nil), c.problems...)
	defer func() {
		if opts.Strict {
			for i := range ps {
				ps[i].Severity = SeverityError
			}
		}
	}()
	if len(c.Profiles) > 0 {
		if _, ok := c.Profile(DefaultProfile); !ok {
			sev := SeverityWarning
			if opts.RequireDefault || opts.Strict {
				sev = SeverityError
			}
			ps = append(ps, Problem{File: c.File, Line: c.profilesLine, Severity: sev,
				Message: fmt.Sprintf("no %q profile: dial strings without a profile (xrtc/user@domain) will fail", DefaultProfile)})
		}
	}
	ps.sort()
	return ps
}

// didYouMean returns the candidate closest to name by edit distance, or ""
// when none is close enough to be a likely typo.
func didYouMean(name string, candidates []string) string {
	name = strings.ToLower(name)
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(name, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(2, len(name)/3)
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
