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
