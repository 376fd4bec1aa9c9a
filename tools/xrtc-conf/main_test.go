package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"xccrtc/conf"
)

const td = "../../testdata/conf/"

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	resolved := []string{"--var", "local_ip_v4=10.0.0.5", "--var", "external_rtp_ip=1.2.3.4", "--var", "domain=xswitch.cn"}
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    []string // substrings
		stderr    []string // substrings
		noStderr  bool
		exactOut  string // file whose content stdout must equal
		stdoutNot []string
		stdoutRE  []string // regular expressions
	}{
		// usage
		{name: "no args", args: nil, code: 2, stderr: []string{"usage: xrtc-conf COMMAND"}},
		{name: "help", args: []string{"--help"}, code: 0, stdout: []string{"validate", "show", "convert", "init", "dial"}},
		{name: "unknown command", args: []string{"frob"}, code: 2, stderr: []string{`unknown command "frob"`}},
		{name: "bad flag", args: []string{"validate", "--nope", "x"}, code: 2, stderr: []string{"flag provided but not defined: -nope"}},
		{name: "validate help", args: []string{"validate", "--help"}, code: 0, stdout: []string{"-strict", "-var name=value"}, noStderr: true},
		{name: "dial help", args: []string{"dial", "-h"}, code: 0, stdout: []string{"-config FILE", "-domain"}},
		{name: "validate no files", args: []string{"validate"}, code: 2, stderr: []string{"usage: xrtc-conf validate"}},
		{name: "bad var", args: []string{"show", "--var", "novalue", td + "valid/full.conf.xml"}, code: 2, stderr: []string{"want name=value"}},

		// validate
		{name: "valid", args: []string{"validate", td + "valid/full.conf.xml", td + "valid/minimal.conf.xml"}, code: 0, noStderr: true},
		{name: "valid strict resolved", args: append([]string{"validate", "--strict", td + "valid/full.conf.xml"}, resolved...), code: 0, noStderr: true},
		{name: "unresolved var", args: []string{"validate", "--var", "domain=x", td + "valid/full.conf.xml"}, code: 1,
			stderr: []string{"unresolved variables: $${external_rtp_ip} (line 31), $${local_ip_v4} (line 29)"}},
		{name: "warnings only", args: []string{"validate", td + "invalid/verto-only-params.conf.xml"}, code: 0,
			stderr: []string{`verto-only-params.conf.xml:9: profile "default" param "bind-local": warning: has no meaning for xrtc: XCtrl terminates the WebSocket; the node listens on NATS only`}},
		{name: "missing default is a warning", args: []string{"validate", td + "invalid/missing-default.conf.xml"}, code: 0,
			stderr: []string{`missing-default.conf.xml:2: warning: no "default" profile`}},
		{name: "missing default strict", args: []string{"validate", "--strict", td + "invalid/missing-default.conf.xml"}, code: 1,
			stderr: []string{`missing-default.conf.xml:2: no "default" profile`}},
		{name: "every problem", args: []string{"validate", td + "invalid/unknown-param.conf.xml", td + "invalid/out-of-range.conf.xml"}, code: 1,
			stderr: []string{
				`unknown-param.conf.xml:3: settings param "debgu": warning: ignored: unknown settings param; did you mean "debug"?`,
				`unknown-param.conf.xml:9: profile "default" param "media-timout": warning: ignored: unknown profile param; did you mean "media-timeout"?`,
				`out-of-range.conf.xml:3: settings param "debug": out of range: 8 is not in 0..7`,
				`out-of-range.conf.xml:9: profile "default" param "media-timeout": out of range`,
			}},
		{name: "unknown params are warnings", args: []string{"validate", td + "invalid/unknown-param.conf.xml"}, code: 0,
			stderr: []string{`warning: ignored: unknown settings param; did you mean "debug"?`}},
		{name: "strict: warnings fail", args: []string{"validate", "--strict", td + "invalid/unknown-param.conf.xml"}, code: 1,
			stderr: []string{`unknown-param.conf.xml:3: settings param "debgu": ignored: unknown settings param; did you mean "debug"?`}},
		{name: "no rtp-ip is a warning", args: []string{"validate", td + "invalid/bad-profile-name.conf.xml"}, code: 0,
			stderr: []string{`param "rtp-ip": warning: missing: calls with this profile fail`}},
		{name: "malformed", args: []string{"validate", td + "invalid/malformed.conf.xml"}, code: 1, stderr: []string{"malformed.conf.xml:4: malformed XML"}},
		{name: "missing file", args: []string{"validate", td + "nope.xml"}, code: 1, stderr: []string{"no such file"}},

		// show
		{name: "show table", args: []string{"show", td + "valid/full.conf.xml"}, code: 0,
			stdout:   []string{"settings\n", `profile "webrtc-v6"`},
			stdoutRE: []string{`(?m)^  rtp-ip {2,}\$\$\{local_ip_v4\},192\.168\.1\.10 {2,}set$`, `(?m)^  media-timeout {2,}0 {2,}default$`, `(?m)^  apply-candidate-acl {2,}- {2,}default$`}},
		{name: "show flags after file", args: append([]string{"show", td + "valid/full.conf.xml", "--json"}, resolved...), code: 0,
			stdout: []string{`"rtp-ip": [`, `"10.0.0.5"`, `"media-timeout": 30000`, `"enable-fs-events": true`}},
		{name: "show invalid", args: []string{"show", td + "invalid/bad-type.conf.xml"}, code: 1, stdout: []string{"settings"}, stderr: []string{"not an integer"}},
		{name: "show two files", args: []string{"show", "a", "b"}, code: 2},

		// convert
		{name: "convert", args: []string{"convert", td + "verto.conf.xml"}, code: 0, exactOut: td + "verto-converted.conf.xml",
			stderr: []string{`verto.conf.xml:15: profile "default-v4" param "bind-local": warning: dropped: XCtrl terminates the WebSocket`,
				`renamed to "default"`}},
		{name: "convert keep names", args: []string{"convert", "--keep-names", td + "verto.conf.xml"}, code: 0,
			stdout: []string{`<profile name="default-v4">`}, stderr: []string{`warning: no "default" profile`}},
		{name: "convert not xml", args: []string{"convert", td + "invalid/malformed.conf.xml"}, code: 1, stderr: []string{"malformed XML"}},

		// init
		{name: "init", args: []string{"init"}, code: 0, stdout: []string{`<configuration name="xcc-rtc.conf"`, `<profile name="default">`}, noStderr: true},

		// dial
		{name: "dial plain", args: []string{"dial", "xrtc/1000@xswitch.cn"}, code: 0, stdoutNot: []string{`"subject"`},
			stdout: []string{`"profile": "default"`, `"user": "1000"`, `"domain": "xswitch.cn"`, `"ctrl_uuid": ""`, `"vars": {}`, `"params": {}`}},
		{name: "dial param wins", args: []string{"dial", "{ctrl_uuid=v1,xcc_ctrl_uuid=v2}xrtc/1000@xswitch.cn;ctrl_uuid=p1"}, code: 0,
			stdout: []string{`"ctrl_uuid": "p1"`, `"xcc_ctrl_uuid": "v2"`, `"ctrl_uuid": "v1"`}},
		{name: "dial with config", args: []string{"dial", "--config", td + "valid/full.conf.xml", "xrtc/webrtc-v6/1000@xswitch.cn"}, code: 0,
			stdout: []string{`"profile": "webrtc-v6"`, `"subject": "cn.xswitch.ctrl.rtc.v6"`}},
		{name: "dial ctrl subject", args: []string{"dial", "--config", td + "valid/full.conf.xml", "{xcc_ctrl_uuid=c-7}xrtc/default/1000@xswitch.cn"}, code: 0,
			stdout: []string{`"subject": "cn.xswitch.ctrl.c-7"`, `"ctrl_uuid_from": "variable xcc_ctrl_uuid"`}},
		{name: "dial domain from profile", args: append([]string{"dial", "--config", td + "valid/full.conf.xml", "xrtc/1000"}, resolved...), code: 0,
			stdout: []string{`"domain": "xswitch.cn"`, `"login": "1000@xswitch.cn"`, `"subject": "cn.xswitch.ctrl.rtc"`}},
		{name: "dial unknown profile", args: []string{"dial", "--config", td + "valid/full.conf.xml", "xrtc/nope/1000@xswitch.cn"}, code: 1,
			stderr: []string{`profile "nope"`, "unknown profile"}},
		{name: "dial no default", args: []string{"dial", "--config", td + "invalid/missing-default.conf.xml", "xrtc/1000@d"}, code: 1,
			stderr: []string{`profile "default"`}},
		{name: "dial bad", args: []string{"dial", "sofia/1000"}, code: 1, stderr: []string{`expected "xrtc/"`}},
		{name: "dial one socket", args: []string{"dial", "--config", td + "valid/full.conf.xml", "xrtc/u:6d1f-0c2e"}, code: 0,
			stdout: []string{`"sessid": "6d1f-0c2e"`, `"login": ""`, `"domain": ""`, `"subject": "cn.xswitch.ctrl.rtc"`}},
		{name: "dial no domain anywhere", args: []string{"dial", "--config", td + "valid/minimal.conf.xml", "xrtc/1000"}, code: 1, stderr: []string{"no domain"}},
		{name: "dial domain flag", args: []string{"dial", "--config", td + "valid/minimal.conf.xml", "--domain", "d.cn", "xrtc/1000"}, code: 0,
			stdout: []string{`"login": "1000@d.cn"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, re := range tc.stdoutRE {
				if !regexp.MustCompile(re).MatchString(stdout) {
					t.Errorf("stdout does not match %s:\n%s", re, stdout)
				}
			}
			for _, s := range tc.stdoutNot {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.noStderr && stderr != "" {
				t.Errorf("unexpected stderr:\n%s", stderr)
			}
			if tc.exactOut != "" {
				want, err := os.ReadFile(tc.exactOut)
				if err != nil {
					t.Fatal(err)
				}
				if stdout != string(want) {
					t.Errorf("stdout differs from %s:\n%s", tc.exactOut, stdout)
				}
			}
		})
	}
}

func TestDialJSONShape(t *testing.T) {
	code, stdout, stderr := runCmd("dial", "--config", td+"valid/full.conf.xml", "{a=1,b='x,y'}xrtc/default/1000@xswitch.cn;ctrl_uuid=c1;k=v")
	if code != 0 {
		t.Fatal(stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"profile": "default", "user": "1000", "domain": "xswitch.cn", "login": "1000@xswitch.cn",
		"ctrl_uuid": "c1", "ctrl_uuid_from": "param ctrl_uuid", "subject": "cn.xswitch.ctrl.c1",
		"vars":   map[string]any{"a": "1", "b": "x,y"},
		"params": map[string]any{"ctrl_uuid": "c1", "k": "v"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestFilesOutput(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join(dir, "xcc-rtc.conf.xml")
	if code, _, stderr := runCmd("init", "-o", sample); code != 0 {
		t.Fatal(stderr)
	}
	data, err := os.ReadFile(sample)
	if err != nil || !bytes.Equal(data, conf.Sample()) {
		t.Fatalf("init wrote %q, %v", data, err)
	}
	if code, _, stderr := runCmd("init", "-o", sample); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("init over an existing file: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd("init", "--force", "-o", sample); code != 0 {
		t.Errorf("init --force: %s", stderr)
	}
	if code, _, stderr := runCmd("validate", "--strict", sample); code != 0 || stderr != "" {
		t.Errorf("the sample does not validate: %s", stderr)
	}
	out := filepath.Join(dir, "converted.xml")
	if code, stdout, stderr := runCmd("convert", td+"verto.conf.xml", "-o", out); code != 0 || stdout != "" || !strings.Contains(stderr, "dropped") {
		t.Fatalf("convert -o: %d %q %s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(td + "verto-converted.conf.xml")
	if !bytes.Equal(got, want) {
		t.Errorf("convert -o wrote:\n%s", got)
	}
	if code, _, stderr := runCmd("validate", "--strict", out); code != 0 || stderr != "" {
		t.Errorf("converted file: %d %s", code, stderr)
	}
}
