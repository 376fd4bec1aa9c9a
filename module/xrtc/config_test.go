package xrtc_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xccrtc/module/xrtc"
)

const confDir = "../../testdata/conf"

func TestLoadConfigFromConf(t *testing.T) {
	cfg, _, err := xrtc.LoadConfig(filepath.Join(confDir, "valid/full.conf.xml"), map[string]string{
		"local_ip_v4": "10.0.0.5", "external_rtp_ip": "203.0.113.5", "domain": "xswitch.cn",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Profiles["default"]
	if p == nil {
		t.Fatalf("profiles %v", cfg.Profiles)
	}
	if p.MediaTimeout != 30*time.Second || p.HoldTimeout() != 600*time.Second || p.DetachTimeout != 30*time.Second || p.CtrlSubject != "cn.xswitch.ctrl.rtc" {
		t.Errorf("profile %+v", p)
	}
	if cfg.Settings.DetachTimeout != 60*time.Second {
		t.Errorf("settings %+v", cfg.Settings)
	}
	min, _, err := xrtc.LoadConfig(filepath.Join(confDir, "valid/minimal.conf.xml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := min.Profiles["default"]; d.MediaTimeout != 0 || d.HoldTimeout() != 0 || d.Context != "default" {
		t.Errorf("minimal profile %+v", d)
	}
	_, probs, err := xrtc.LoadConfig(filepath.Join(confDir, "invalid/bad-type.conf.xml"), nil)
	if err == nil || len(probs) == 0 || !strings.Contains(err.Error(), "media-timeout") {
		t.Errorf("bad config: %v %v", err, probs)
	}
}

// TestReloadFromFile: `xrtc reload` reads the file again; a broken file is
// refused with the validator's errors and the old configuration stays.
func TestReloadFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xcc-rtc.conf.xml")
	write := func(timeout string) {
		t.Helper()
		doc := `<configuration name="xcc-rtc.conf"><profiles><profile name="default">` +
			`<param name="rtp-ip" value="127.0.0.1"/><param name="media-timeout" value="` + timeout + `"/></profile></profiles></configuration>`
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("4000")
	e := newEnv(t, func(o *xrtc.Options) {
		o.Reload = func() (xrtc.Config, error) {
			cfg, _, err := xrtc.LoadConfig(path, nil)
			return cfg, err
		}
	})
	ch := e.answered("call-keep")
	write("7000")
	mustContain(t, e.ep.API("reload"), "+OK reloaded")
	mustContain(t, e.ep.API("status"), "7000ms")
	write("seven seconds")
	out := e.ep.API("reload")
	mustContain(t, out, "-ERR configuration refused", "media-timeout", "not an integer")
	mustContain(t, e.ep.API("status"), "7000ms")
	// The call kept its profile (5 s from the test config) through both.
	e.clock.Advance(7 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
}

// A configuration mod_verto would load loads: a profile without rtp-ip is a
// warning (its calls fail), shown in `xrtc status` next to the profile;
// only errors refuse the file.
func TestWarningsInStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xcc-rtc.conf.xml")
	doc := `<configuration name="xcc-rtc.conf"><settings><param name="debgu" value="1"/></settings><profiles>
<profile name="default"><param name="rtp-ip" value="127.0.0.1"/></profile>
<profile name="webrtc"><param name="media-timeout" value="4000"/></profile>
</profiles></configuration>`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, warns, err := xrtc.LoadConfig(path, nil)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(warns) != 2 || len(cfg.Profiles["webrtc"].Warnings) != 1 || len(cfg.Warnings) != 1 {
		t.Fatalf("warnings %v; profile %v; config %v", warns, cfg.Profiles["webrtc"].Warnings, cfg.Warnings)
	}
	e := newEnv(t, func(o *xrtc.Options) {
		o.Config.Profiles, o.Config.Warnings = cfg.Profiles, cfg.Warnings
	})
	st := e.ep.API("status")
	mustContain(t, st, "warnings\n", `warning: profile webrtc: line 3: param "rtp-ip": missing: calls with this profile fail`,
		`warning: line 1: param "debgu": ignored: unknown settings param; did you mean "debug"?`)

	// No profile at all: still loads, every call fails.
	empty := `<configuration name="xcc-rtc.conf"><profiles/></configuration>`
	if err := os.WriteFile(path, []byte(empty), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = xrtc.LoadConfig(path, nil)
	if err != nil || cfg.Validate() != nil || len(cfg.Warnings) != 1 {
		t.Fatalf("no profile: %v %v %v", err, cfg.Validate(), cfg.Warnings)
	}
}
