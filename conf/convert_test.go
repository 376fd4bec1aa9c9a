package conf

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestConvert(t *testing.T) {
	const in = `<configuration name="verto.conf" description="HTML5 Verto Endpoint">
  <settings>
    <param name="debug" value="1"/>
    <param name="kslog" value="true"/>
    <param name="detach-timeout-sec" value="30"/>
  </settings>
  <profiles>
    <profile name="mine">
      <param name="bind-local" value="0.0.0.0:8081"/>
      <param name="rtp-ip" value="10.0.0.1"/>
      <param name="media-timeout" value="5000"/>
      <param name="weird-thing" value="1"/>
      <vhosts><vhost domain="x"/></vhosts>
    </profile>
    <profile name="second">
      <param name="userauth" value="true"/>
    </profile>
    <gateway/>
  </profiles>
</configuration>`
	for _, tc := range []struct {
		name     string
		opts     ConvertOptions
		profiles []string
		report   []string // substrings, one per report line, in order
	}{
		{"rename first", ConvertOptions{}, []string{"default", "second"}, []string{
			`:4: settings param "kslog": warning: dropped: the node has no libks`,
			`:8: profile "mine": warning: added xrtc-ctrl-subject=cn.xswitch.ctrl.rtc`, // media-timeout was set
			`:8: profile "mine": warning: renamed to "default"`,
			`:9: profile "mine" param "bind-local": warning: dropped: XCtrl terminates the WebSocket`,
			`:12: profile "mine" param "weird-thing": warning: dropped: unknown profile param`,
			`:13: profile "mine" param "vhosts": warning: dropped: the node serves no HTTP`,
			`:15: profile "second": warning: added xrtc-ctrl-subject=cn.xswitch.ctrl.rtc, media-timeout=0`,
			`:16: profile "second" param "userauth": warning: dropped: XCtrl authenticates`,
			`:18: warning: dropped: unknown element <gateway> in <profiles>`,
		}},
		{"keep names", ConvertOptions{KeepNames: true, Output: "out.xml"}, []string{"mine", "second"}, []string{
			`:4:`, `:8: profile "mine": warning: added`, `:8: warning: no "default" profile`, `:9:`, `:12:`, `:13:`, `:15:`, `:16:`, `:18:`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, report, err := Convert("verto.conf.xml", []byte(in), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ProfileNames(); !slices.Equal(got, tc.profiles) {
				t.Errorf("profiles %v, want %v", got, tc.profiles)
			}
			if len(report) != len(tc.report) {
				t.Fatalf("report:\n%v", report)
			}
			for i, want := range tc.report {
				if got := report[i].String(); !strings.HasPrefix(got, "verto.conf.xml:") || !strings.Contains(got, want) {
					t.Errorf("report[%d] = %q, want it to contain %q", i, got, want)
				}
			}
			if cfg.Name != ConfigName || cfg.Settings.Debug != 1 || cfg.Settings.DetachTimeout.Seconds() != 30 {
				t.Errorf("settings not kept: %+v", cfg.Settings)
			}
			p := cfg.Profiles[0]
			if p.MediaTimeout.Milliseconds() != 5000 || p.CtrlSubject != "cn.xswitch.ctrl.rtc" {
				t.Errorf("profile %+v", p)
			}
			// The converted config has no leftovers; only the second profile's
			// missing rtp-ip (and the missing default) remain.
			for _, pr := range cfg.Validate(ValidateOptions{}) {
				if !strings.Contains(pr.Message, "rtp-ip") && pr.Param != "rtp-ip" && !strings.Contains(pr.Message, `no "default"`) {
					t.Errorf("unexpected problem: %v", pr)
				}
			}
			if tc.opts.Output != "" && cfg.File != tc.opts.Output {
				t.Errorf("file %q", cfg.File)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	if _, _, err := Convert("x", []byte("<a><b></a>"), ConvertOptions{}); !errors.Is(err, ErrSyntax) {
		t.Errorf("got %v", err)
	}
	if _, _, err := Convert("x", []byte("<domain/>"), ConvertOptions{}); !errors.Is(err, ErrNoConfiguration) {
		t.Errorf("got %v", err)
	}
	_, report, err := Convert("x", []byte(`<configuration name="sofia.conf"><profiles><profile name="default"><param name="rtp-ip" value="::1"/></profile></profiles></configuration>`), ConvertOptions{})
	if err != nil || len(report) != 2 || !strings.Contains(report[0].Message, `expected "verto.conf"`) {
		t.Errorf("got %v %v", report, err)
	}
}
