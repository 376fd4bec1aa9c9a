package conf

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/conf")

const testdata = "../testdata/conf"

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./conf/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// relFile is how fixtures are named in problems: relative to testdata/conf,
// so that golden files do not depend on where the tests run.
func loadFixture(t *testing.T, path string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(testdata, path)
	return Parse(filepath.ToSlash(rel), data)
}

func TestValidConfigsHaveNoProblems(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "valid", "*.conf.xml"))
	files = append(files, filepath.Join(testdata, "verto-converted.conf.xml"), filepath.Join(testdata, "sample.conf.xml"))
	if len(files) < 4 {
		t.Fatalf("fixtures missing: %v", files)
	}
	vars := map[string]string{"local_ip_v4": "10.0.0.5", "external_rtp_ip": "stun:stun.freeswitch.org",
		"domain": "xswitch.cn", "local_ip_v6": "::1"}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := loadFixture(t, f)
			if err != nil {
				t.Fatal(err)
			}
			if ps := c.Validate(ValidateOptions{RequireDefault: true}); len(ps) > 0 {
				t.Errorf("raw: unexpected problems:\n%v", ps)
			}
			r, err := c.Resolve(vars)
			if err != nil {
				t.Fatal(err)
			}
			if ps := r.Validate(ValidateOptions{RequireDefault: true}); len(ps) > 0 {
				t.Errorf("resolved: unexpected problems:\n%v", ps)
			}
		})
	}
}

// Each invalid fixture X.conf.xml has X.txt: every problem Validate reports
// with RequireDefault (or the syntax error), one per line.
func TestInvalidConfigsGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "invalid", "*.conf.xml"))
	for _, name := range []string{"unknown-param", "bad-type", "out-of-range", "duplicate-profile", "missing-default", "verto-only-params"} {
		if _, err := os.Stat(filepath.Join(testdata, "invalid", name+".conf.xml")); err != nil {
			t.Errorf("required fixture: %v", err)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var got string
			c, err := loadFixture(t, f)
			switch {
			case errors.Is(err, ErrSyntax):
				got = err.Error()
			case err != nil:
				t.Fatal(err)
			default:
				ps := c.Validate(ValidateOptions{RequireDefault: true})
				if len(ps) == 0 {
					t.Fatal("no problems reported")
				}
				got = ps.Error()
			}
			golden(t, strings.TrimSuffix(f, ".conf.xml")+".txt", []byte(got+"\n"))
		})
	}
}

func TestSampleGolden(t *testing.T) {
	golden(t, filepath.Join(testdata, "sample.conf.xml"), Sample())
}

func TestConvertGolden(t *testing.T) {
	in := filepath.Join(testdata, "verto.conf.xml")
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	cfg, report, err := Convert("verto.conf.xml", data, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := cfg.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join(testdata, "verto-converted.conf.xml"), out.Bytes())
	golden(t, filepath.Join(testdata, "verto-converted.txt"), []byte(report.Error()+"\n"))
	if ps := cfg.Validate(ValidateOptions{RequireDefault: true}); len(ps) > 0 {
		t.Errorf("converted config has problems:\n%v", ps)
	}
}
