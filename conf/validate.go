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
}

// Validate returns every problem of the configuration at once, sorted by
// line: unknown elements and params (with a did-you-mean), bad types, values
// out of range, duplicate profiles and params, a missing "default" profile,
// and, as warnings, mod_verto params that mean nothing to xrtc. Values that
// still hold $${name} references are checked only on a resolved Config.
func (c *Config) Validate(opts ValidateOptions) Problems {
	ps := append(Problems(nil), c.problems...)
	if len(c.Profiles) > 0 {
		if _, ok := c.Profile(DefaultProfile); !ok {
			sev := SeverityWarning
			if opts.RequireDefault {
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
