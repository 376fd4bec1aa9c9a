package conf

import (
	"strings"
	"testing"
)

// A configuration mod_verto would load loads: what FreeSWITCH skips, and
// what only breaks some calls, is a warning; only what the module cannot
// run with is an error.
func TestForgivingAsModVerto(t *testing.T) {
	src := `<configuration name="xcc-rtc.conf">
  <settings>
    <param name="debgu" value="1"/>
    <param/>
  </settings>
  <profiles>
    <profile name="webrtc">
      <param name="context" value="first"/>
      <param name="context" value="second"/>
      <param name="timer-name" value=""/>
      <param name="rtp-ip" value=""/>
      <param name="made-up" value="x"/>
      <vhosts/>
      <gateway/>
    </profile>
    <profile>
      <param name="rtp-ip" value="127.0.0.1"/>
    </profile>
  </profiles>
</configuration>`
	c, err := Parse("f.xml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Validate(ValidateOptions{})
	if err := ps.Err(); err != nil {
		t.Fatalf("refused:\n%v", err)
	}
	for _, want := range []string{
		`settings param "debgu": warning: ignored: unknown settings param; did you mean "debug"?`,
		`warning: <param> without a name is ignored`,
		`param "context": warning: set more than once (first at line 8): this later value is used`,
		`param "timer-name": warning: ignored: empty value`,
		`param "rtp-ip": warning: ignored: empty value`,
		`param "rtp-ip": warning: missing: calls with this profile fail`,
		`param "made-up": warning: ignored: unknown profile param`,
		`warning: unknown element <gateway> in <profile> is ignored`,
		`warning: <profile> without a name is ignored`,
		`warning: no "default" profile`,
	} {
		if !strings.Contains(ps.Error(), want) {
			t.Errorf("no %q in\n%v", want, ps)
		}
	}
	if len(c.Profiles) != 1 {
		t.Fatalf("profiles %d, want the named one only", len(c.Profiles))
	}
	p := c.Profiles[0]
	if p.Context != "second" || p.TimerName != "soft" || len(p.RTPIPs) != 0 {
		t.Errorf("context %q (the last wins), timer-name %q (default kept), rtp-ip %v", p.Context, p.TimerName, p.RTPIPs)
	}
	// --strict: every warning fails.
	strict := c.Validate(ValidateOptions{Strict: true})
	if len(strict) != len(ps) || len(strict.Warnings()) != 0 || !strict.HasErrors() {
		t.Errorf("strict: %d problems, %d warnings", len(strict), len(strict.Warnings()))
	}
}

// What the module cannot run with stays an error.
func TestErrorsStayErrors(t *testing.T) {
	for name, src := range map[string]string{
		"bad type":          `<configuration name="xcc-rtc.conf"><profiles><profile name="default"><param name="media-timeout" value="soon"/><param name="rtp-ip" value="127.0.0.1"/></profile></profiles></configuration>`,
		"out of range":      `<configuration name="xcc-rtc.conf"><settings><param name="debug" value="9"/></settings><profiles><profile name="default"><param name="rtp-ip" value="127.0.0.1"/></profile></profiles></configuration>`,
		"duplicate profile": `<configuration name="xcc-rtc.conf"><profiles><profile name="default"><param name="rtp-ip" value="127.0.0.1"/></profile><profile name="default"/></profiles></configuration>`,
		"mod_verto's file":  `<configuration name="verto.conf"><profiles/></configuration>`,
	} {
		c, err := Parse("f.xml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ps := c.Validate(ValidateOptions{}); !ps.HasErrors() {
			t.Errorf("%s: accepted: %v", name, ps)
		}
	}
}
