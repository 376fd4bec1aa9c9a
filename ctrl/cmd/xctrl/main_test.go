package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpExplainsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"ws-listen", "wss-listen", "cert", "key", "directory", "nats", "nats-listen", "ctrl-uuid",
		"metrics-listen", "jwt-secret", "xui-auth-url", "config"} {
		if !strings.Contains(errb.String(), "-"+f) {
			t.Errorf("--help lacks --%s", f)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "x.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var o options
	flags(fs, &o)
	if err := fs.Parse([]string{"--ws-listen", "127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	p := write(`{"ws-listen":"0.0.0.0:1","nats":["nats://a:4222","nats://b:4222"],"rate":7,"enable-jsapi":true}`)
	if err := applyConfigFile(fs, p); err != nil {
		t.Fatal(err)
	}
	c := o.config2()
	if c.WSListen != "127.0.0.1:9" || len(c.NATSURLs) != 2 || c.Limits.RatePerSec != 7 || !c.EnableJSAPI {
		t.Fatalf("config %+v", c)
	}
	if err := applyConfigFile(fs, write(`{"no-such-flag":1}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--wss-listen", "127.0.0.1:0"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "cert") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
