package conf

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

// addSeeds adds the fixtures matching the patterns that are small: the
// fuzzer minimizes every interesting input, which takes long for big ones.
func addSeeds(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join(testdata, p))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil && len(data) <= 1200 {
				f.Add(data)
			}
		}
	}
}

// FuzzLoad: the config parser and everything built on it never panic, and an
// unedited document is written back unchanged.
func FuzzLoad(f *testing.F) {
	addSeeds(f, "*.conf.xml", "valid/*.xml", "invalid/*.xml")
	f.Add([]byte(`<configuration name="xcc-rtc.conf"><settings><param name="debug" value="$${x}"/></settings></configuration>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.xml", data)
		if err != nil {
			return
		}
		_ = c.Validate(ValidateOptions{RequireDefault: true}).Error()
		if _, err := json.Marshal(c.Effective()); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := c.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("again.xml", out.Bytes()); err != nil {
			t.Fatalf("written document does not parse: %v\n%s", err, out.Bytes())
		}
		if r, err := c.Resolve(map[string]string{"x": "1", "local_ip_v4": "10.0.0.1", "domain": "d"}); err == nil {
			_ = r.Validate(ValidateOptions{})
		}
		_ = c.Set("default", "media-timeout", "1000")
		_ = c.Set(SettingsScope, "debug", "1")
		_ = c.Unset("default", "rtp-ip")
		_, _, _ = Convert("fuzz.xml", data, ConvertOptions{})
	})
}

// FuzzLoadDirectory: the directory reader never panics, and every user it
// lists is found by Lookup.
func FuzzLoadDirectory(f *testing.F) {
	addSeeds(f, "directory*.xml")
	f.Add([]byte(`<document><section name="directory"><domain name="d"><params><param name="password" value="p"/></params>` +
		`<groups><group name="g"><users><user id="1"/><user id="2" type="pointer"/></users></group></groups></domain></section></document>`))
	f.Add([]byte(`<domain name="$${d}"><users><user id="1" number-alias="1"><params><param name="a1-hash" value="x"/></params></user></users></domain>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"d/dir.xml": &fstest.MapFile{Data: data}}
		d, err := LoadDirectory("/d/dir.xml", DirectoryOptions{FS: fsys, CoreVars: map[string]string{}, Vars: map[string]string{"d": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		checkUsers(t, d)
	})
}

// checkUsers: every user a directory lists is found by Lookup, and its
// accessors do not panic.
func checkUsers(t *testing.T, d *Directory) {
	_ = d.Problems().Error()
	for _, dom := range d.Domains {
		for _, u := range dom.Users {
			if _, ok := d.Lookup(u.ID, dom.Name); !ok && u.ID != "" {
				t.Fatalf("user %q@%q not found by Lookup", u.ID, dom.Name)
			}
			_ = u.CheckPassword(u.ID, dom.Name, "1234")
			_ = u.MethodAllowed("verto.invite")
			_ = u.Context()
			_, _ = u.LoginExpires(time.Now())
		}
	}
}
