package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Aim is the bound the issue sets on recovery: new calls are served again
// within 2 s of any single failure.
const Aim = 2 * time.Second

// Result is what one scenario measured.
type Result struct {
	Scenario string `json:"scenario"`
	// Calls are the answered calls with media on parts that stayed up when
	// the fault came; Kept of them still carried audio (RTP counted by the
	// clients) after it, Lost did not.
	Calls int `json:"calls"`
	Kept  int `json:"kept"`
	Lost  int `json:"lost"`
	// Recover is how long after the fault (for NATS outages: after NATS was
	// back) a new call was answered with audio again; -1 if never, 0 if
	// not measured.
	Recover time.Duration `json:"recover_ns"`
	// Notes are the other figures.
	Notes []string `json:"notes,omitempty"`
	// Problems are what broke the scenario's aims: lost calls, refusals,
	// a component off the bus, a setup failure.
	Problems []string      `json:"problems,omitempty"`
	Took     time.Duration `json:"took_ns"`
	// Logs are the processes' log files (in Env.Dir).
	Logs []string `json:"logs,omitempty"`
}

// OK reports whether the scenario met every aim but the 2 s bound on
// recovery (MetAim).
func (r Result) OK() bool {
	return len(r.Problems) == 0 && r.Lost == 0 && r.Kept == r.Calls && r.Recover >= 0
}

// MetAim reports whether the scenario also met the 2 s bound.
func (r Result) MetAim() bool { return r.OK() && r.Recover <= Aim }

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: calls kept %d/%d, lost %d, recover %s (took %s)", r.Scenario, r.Kept, r.Calls, r.Lost, fmtRecover(r.Recover), r.Took.Round(100*time.Millisecond))
	for _, n := range r.Notes {
		b.WriteString("\n  " + n)
	}
	for _, p := range r.Problems {
		b.WriteString("\n  PROBLEM: " + p)
	}
	return b.String()
}

func fmtRecover(d time.Duration) string {
	switch {
	case d < 0:
		return "never"
	case d == 0:
		return "-"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Table prints results as the operator guide shows them.
func Table(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcalls kept\tcalls lost\trecover\taim\tnotes")
	for _, r := range rs {
		aim := "met"
		switch {
		case !r.OK():
			aim = "MISSED"
		case !r.MetAim():
			aim = "slow"
		}
		notes := strings.Join(r.Notes, "; ")
		if len(r.Problems) > 0 {
			notes = "PROBLEMS: " + strings.Join(r.Problems, "; ") + "; " + notes
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%s\t%s\t%s\n", r.Scenario, r.Kept, r.Calls, r.Lost, fmtRecover(r.Recover), aim, notes)
	}
	_ = tw.Flush()
}

// spread describes durations: "p50 X, max Y".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %.2f s, max %.2f s", s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
}
