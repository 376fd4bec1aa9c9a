package conf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, c *Config) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Reading and writing without edits gives back the same bytes.
func TestWriteUnchangedIsIdentical(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "valid", "*.conf.xml"))
	files = append(files, filepath.Join(testdata, "verto.conf.xml"), filepath.Join(testdata, "sample.conf.xml"),
		filepath.Join(testdata, "invalid", "verto-only-params.conf.xml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(f, data)
		if err != nil {
			t.Fatal(err)
		}
		if got := write(t, c); got != string(data) {
			t.Errorf("%s: round trip changed the file:\n%s", f, got)
		}
	}
}

const editBase = `<?xml version="1.0"?>
<!-- top comment -->
<configuration name="xcc-rtc.conf" description="XCC RTC">
  <settings>
    <!-- debug comment -->
    <param name="debug" value="0"/>
  </settings>
  <profiles>
    <profile name="default">
      <!-- subject comment -->
      <param name="xrtc-ctrl-subject" value="cn.xswitch.ctrl.rtc"/>
      <param name="rtp-ip" value="10.0.0.1"/>
      <param name="rtp-ip" value="10.0.0.2"/>
      <param name="context" value="default"/>
    </profile>
  </profiles>
</configuration>
`

func TestEdits(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config) error
		want string // editBase with these replacements applied, as old=>new pairs separated by "\n---\n"
	}{
		{"set existing keeps position and comment", func(c *Config) error { return c.Set("default", "xrtc-ctrl-subject", "cn.xswitch.ctrl.rtc.b") },
			`value="cn.xswitch.ctrl.rtc"/>=>value="cn.xswitch.ctrl.rtc.b"/>`},
		{"set setting", func(c *Config) error { return c.Set(SettingsScope, "debug", "5") },
			`"debug" value="0"=>"debug" value="5"`},
		{"set new param goes after the last", func(c *Config) error { return c.Set("default", "media-timeout", "30000") },
			`<param name="context" value="default"/>
=><param name="context" value="default"/>
      <param name="media-timeout" value="30000"/>
`},
		{"set new setting", func(c *Config) error { return c.Set(SettingsScope, "nats-url", "nats://10.0.0.9:4222") },
			`<param name="debug" value="0"/>
=><param name="debug" value="0"/>
    <param name="nats-url" value="nats://10.0.0.9:4222"/>
`},
		{"set repeatable replaces all", func(c *Config) error { return c.Set("default", "rtp-ip", "10.0.0.9") },
			`<param name="rtp-ip" value="10.0.0.1"/>
      <param name="rtp-ip" value="10.0.0.2"/>
=><param name="rtp-ip" value="10.0.0.9"/>
`},
		{"add repeatable after its last", func(c *Config) error { return c.Add("default", "rtp-ip", "10.0.0.3") },
			`<param name="rtp-ip" value="10.0.0.2"/>
=><param name="rtp-ip" value="10.0.0.2"/>
      <param name="rtp-ip" value="10.0.0.3"/>
`},
		{"unset removes the line", func(c *Config) error { return c.Unset("default", "context") },
			`      <param name="context" value="default"/>
=>`},
		{"variable reference is accepted", func(c *Config) error { return c.Set("default", "rtp-ip", "$${local_ip_v4}") },
			`<param name="rtp-ip" value="10.0.0.1"/>
      <param name="rtp-ip" value="10.0.0.2"/>
=><param name="rtp-ip" value="$${local_ip_v4}"/>
`},
		{"add profile", func(c *Config) error {
			if err := c.AddProfile("webrtc"); err != nil {
				return err
			}
			return c.Set("webrtc", "rtp-ip", "::1")
		}, `    </profile>
  </profiles>
=>    </profile>
    <profile name="webrtc">
      <param name="rtp-ip" value="::1"/>
    </profile>
  </profiles>
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("edit.xml", []byte(editBase))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(c); err != nil {
				t.Fatal(err)
			}
			old, repl, _ := strings.Cut(tc.want, "=>")
			if !strings.Contains(editBase, old) {
				t.Fatalf("bad test: %q not in base", old)
			}
			want := strings.Replace(editBase, old, repl, 1)
			if got := write(t, c); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			// The typed view follows the edit and the result is still valid.
			if ps := c.Validate(ValidateOptions{}); len(ps) != 0 {
				t.Errorf("problems after edit: %v", ps)
			}
		})
	}
}

func TestEditTypedViewFollows(t *testing.T) {
	c, err := Parse("edit.xml", []byte(editBase))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("default", "media-timeout", "5000"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("default", "apply-candidate-acl", "wan_v4.auto"); err != nil {
		t.Fatal(err)
	}
	p, _ := c.Profile("default")
	if p.MediaTimeout.Milliseconds() != 5000 || len(p.CandidateACLs) != 1 || p.Line != 9 {
		t.Errorf("typed view: %+v", p)
	}
}

func TestEditErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config) error
		want error
	}{
		{"unknown profile", func(c *Config) error { return c.Set("nope", "context", "x") }, ErrUnknownProfile},
		{"unknown param", func(c *Config) error { return c.Set("default", "contxt", "x") }, ErrUnknownParam},
		{"setting in profile", func(c *Config) error { return c.Set("default", "nats-url", "nats://a") }, ErrUnknownParam},
		{"not applicable", func(c *Config) error { return c.Set("default", "bind-local", "0.0.0.0:8081") }, ErrUnknownParam},
		{"bad value", func(c *Config) error { return c.Set("default", "media-timeout", "soon") }, ErrBadValue},
		{"out of range", func(c *Config) error { return c.Set(SettingsScope, "debug", "9") }, ErrBadValue},
		{"unset unknown", func(c *Config) error { return c.Unset("default", "contxt") }, ErrUnknownParam},
		{"duplicate profile", func(c *Config) error { return c.AddProfile("default") }, ErrDuplicate},
		{"bad profile name", func(c *Config) error { return c.AddProfile("a/b") }, ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("edit.xml", []byte(editBase))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(c); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if got := write(t, c); got != editBase {
				t.Errorf("a failed edit changed the document:\n%s", got)
			}
		})
	}
	c, err := Parse("x.xml", []byte(`<include/>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(SettingsScope, "debug", "1"); !errors.Is(err, ErrNoConfiguration) {
		t.Errorf("got %v", err)
	}
}

func TestEditEmptyContainers(t *testing.T) {
	c, err := Parse("x.xml", []byte("<configuration name=\"xcc-rtc.conf\">\n  <profiles>\n    <profile name=\"default\"/>\n  </profiles>\n</configuration>\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("default", "rtp-ip", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(SettingsScope, "debug", "2"); err != nil {
		t.Fatal(err)
	}
	want := `<configuration name="xcc-rtc.conf">
  <settings>
    <param name="debug" value="2"/>
  </settings>
  <profiles>
    <profile name="default">
      <param name="rtp-ip" value="10.0.0.1"/>
    </profile>
  </profiles>
</configuration>
`
	if got := write(t, c); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if ps := c.Validate(ValidateOptions{RequireDefault: true}); len(ps) != 0 {
		t.Error(ps)
	}
}

func TestSampleIsValid(t *testing.T) {
	c, err := Parse("sample", Sample())
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(ValidateOptions{RequireDefault: true}); len(ps) != 0 {
		t.Errorf("sample problems: %v", ps)
	}
	// Every applicable param is mentioned.
	for _, s := range Specs() {
		if s.NotApplicable == "" && !bytes.Contains(Sample(), []byte(`name="`+s.Name+`"`)) {
			t.Errorf("sample lacks %s", s.Name)
		}
	}
}
