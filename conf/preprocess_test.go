package conf

import (
	"strings"
	"testing"
	"testing/fstest"
)

func preprocess(t *testing.T, files map[string]string, o PreprocessOptions) *Preprocessed {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(data)}
	}
	o.FS = fsys
	p, err := Preprocess("/c/main.xml", o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreprocessText: the output is what FreeSWITCH's preprocess() writes,
// line for line.
func TestPreprocessText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  string
	}{
		{"set and expand", map[string]string{"/c/main.xml": "<X-PRE-PROCESS cmd=\"set\" data=\"a = one\"/>\n<x v=\"$${a}$${A}\"/>\n"}, nil,
			"<x v=\"oneone\"/>\n"},
		{"unset is empty", map[string]string{"/c/main.xml": "<x v=\"[$${nope}]\"/>\n"}, nil, "<x v=\"[]\"/>\n"},
		{"nested braces", map[string]string{"/c/main.xml": "<x v=\"$${a{b}}\"/>\n"}, map[string]string{"a{b}": "ok"}, "<x v=\"ok\"/>\n"},
		{"values are not expanded again", map[string]string{"/c/main.xml": "<x v=\"$${a}\"/>\n"}, map[string]string{"a": "$${b}", "b": "no"},
			"<x v=\"$${b}\"/>\n"},
		{"include lines and declarations go", map[string]string{"/c/main.xml": "<?xml version=\"1.0\"?>\n<include>\n<x/>\n</include>\n"}, nil, "<x/>\n"},
		{"commented X-PRE-PROCESS still runs", map[string]string{"/c/main.xml": "<!--\n<X-PRE-PROCESS cmd=\"set\" data=\"a=1\"/>\n-->\n<x v=\"$${a}\"/>\n"}, nil,
			"<!--\n-->\n<x v=\"1\"/>\n"},
		{"XX-PRE-PROCESS line dropped", map[string]string{"/c/main.xml": "<XX-PRE-PROCESS cmd=\"set\" data=\"a=1\"/>\n<x v=\"$${a}\"/>\n"}, nil,
			"<x v=\"\"/>\n"},
		{"include glob, sorted, relative to the file", map[string]string{
			"/c/main.xml":         "<a>\n<X-PRE-PROCESS cmd=\"include\" data=\"sub/*.xml\"/>\n</a>\n",
			"/c/sub/b.xml":        "<b/>\n<X-PRE-PROCESS cmd=\"include\" data=\"deeper/*.xml\"/>\n",
			"/c/sub/a.xml":        "<include>\n<a1/>\n</include>\n",
			"/c/sub/.hid.xml":     "<hidden/>\n",
			"/c/sub/deeper/c.xml": "<c/>\n",
		}, nil, "<a>\n<a1/>\n<b/>\n<c/>\n</a>\n"},
		{"glob negation", map[string]string{
			"/c/main.xml": "<X-PRE-PROCESS cmd=\"include\" data=\"[!b]*.inc\"/>\n", "/c/a.inc": "<a/>\n", "/c/b.inc": "<b/>\n"}, nil, "<a/>\n"},
		{"a file without a final newline runs into the next", map[string]string{
			"/c/main.xml": "<X-PRE-PROCESS cmd=\"include\" data=\"*.inc\"/>\n", "/c/a.inc": "<a/>", "/c/b.inc": "<b/>\n"}, nil, "<a/><b/>\n"},
		{"old form", map[string]string{"/c/main.xml": "<x/><!--#set \"a=2\"--><y v=\"$${a}\"/>\n"}, nil, "<x/><y v=\"\"/>\n"},
		{"old form multi-line", map[string]string{"/c/main.xml": "<x/><!--#set \"a=3\"\nstill comment\n--><y/>\n<z v=\"$${a}\"/>\n"}, nil,
			"<x/><y/>\n<z v=\"3\"/>\n"},
		{"CR LF", map[string]string{"/c/main.xml": "<X-PRE-PROCESS cmd=\"set\" data=\"a=4\"/>\r\n<x v=\"$${a}\"/>\r\n"}, nil, "\n<x v=\"4\"/>\r\n"},
		{"env-set", map[string]string{"/c/main.xml": "<X-PRE-PROCESS cmd=\"env-set\" data=\"a=$XRTC_TEST_ENV_PASSWORD\"/>\n<x v=\"$${a}\"/>\n"}, nil,
			"<x v=\"from-env\"/>\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := preprocess(t, tc.files, PreprocessOptions{Vars: tc.vars, Getenv: testEnv})
			if string(p.Text) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", p.Text, tc.want)
			}
		})
	}
}

// TestPreprocessPositions: every output line knows its file and line.
func TestPreprocessPositions(t *testing.T) {
	p := preprocess(t, map[string]string{
		"/c/main.xml":  "<a>\n<!-- c -->\n<X-PRE-PROCESS cmd=\"include\" data=\"in.xml\"/>\n<z/>\n</a>\n",
		"/c/in.xml":    "<include>\n  <b/>\n\n  <c/>\n</include>\n",
		"/c/other.xml": "<never/>\n",
	}, PreprocessOptions{})
	want := []Pos{{"/c/main.xml", 1}, {"/c/main.xml", 2}, {"/c/in.xml", 2}, {"/c/in.xml", 3}, {"/c/in.xml", 4}, {"/c/main.xml", 4}, {"/c/main.xml", 5}}
	for i, w := range want {
		if got := p.Pos(i + 1); got != w {
			t.Errorf("line %d from %v, want %v", i+1, got, w)
		}
	}
	if got := p.Pos(99); got != want[len(want)-1] {
		t.Errorf("past the end: %v", got)
	}
}

// TestPreprocessLimits: a glob that includes itself, or a variable that
// doubles on every line, stops with a problem, not an endless run.
func TestPreprocessLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("<X-PRE-PROCESS cmd=\"set\" data=\"a=xxxxxxxxxxxxxxxx\"/>\n")
	for range 40 {
		b.WriteString("<X-PRE-PROCESS cmd=\"set\" data=\"a=$${a}$${a}\"/>\n")
	}
	p := preprocess(t, map[string]string{"/c/main.xml": b.String()}, PreprocessOptions{})
	if !strings.Contains(p.Problems().Error(), "value longer than") {
		t.Errorf("problems: %v", p.Problems())
	}
	p = preprocess(t, map[string]string{
		"/c/main.xml": "<X-PRE-PROCESS cmd=\"include\" data=\"d/*.xml\"/>\n",
		"/c/d/a.xml":  "<a/>\n<X-PRE-PROCESS cmd=\"include\" data=\"*.xml\"/>\n",
		"/c/d/b.xml":  "<b/>\n<X-PRE-PROCESS cmd=\"include\" data=\"*.xml\"/>\n",
	}, PreprocessOptions{})
	if !strings.Contains(p.Problems().Error(), "includes itself") {
		t.Errorf("problems: %v", p.Problems())
	}
	if _, err := Preprocess("/nothing.xml", PreprocessOptions{FS: fstest.MapFS{}}); err == nil {
		t.Error("a missing first file must fail")
	}
}

// FuzzPreprocess: the pre-processor and the directory reader never panic,
// stay within their limits and map every output line to a source line.
func FuzzPreprocess(f *testing.F) {
	f.Add([]byte("<X-PRE-PROCESS cmd=\"set\" data=\"a=1\"/>\n<domain name=\"$${a}\"><user id=\"1\"/></domain>\n"), []byte("<user id=\"2\"/>\n"))
	f.Add([]byte("<!--#include \"inc/*.xml\"\n-->\n<x/>"), []byte("<X-PRE-PROCESS cmd=\"include\" data=\"*.xml\"/>"))
	f.Add([]byte("<document><section name=\"directory\"><X-PRE-PROCESS cmd=\"include\" data=\"inc/a.xml\"/></section></document>"),
		[]byte("<domain name=\"d\"><groups><group name=\"g\"><users><user id=\"1\" type=\"pointer\"/></users></group></groups><user id=\"1\" number-alias=\"1\"/></domain>"))
	f.Add([]byte("$${$${$${}}}\r\r\n<X-pre-process cmd=\"exec\" data=\"x\"/><X-PRE-PROCESS cmd=\"stun-set\" data=\"q=r\"/>"), []byte("$${q}"))
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		fsys := fstest.MapFS{
			"c/main.xml":  &fstest.MapFile{Data: main},
			"c/inc/a.xml": &fstest.MapFile{Data: inc},
			"c/inc/b.xml": &fstest.MapFile{Data: inc},
		}
		p, err := Preprocess("/c/main.xml", PreprocessOptions{FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Text) > ppMaxOutput {
			t.Fatalf("output %d bytes", len(p.Text))
		}
		lines := strings.Count(string(p.Text), "\n") + 1
		for i := 1; i <= lines; i++ {
			if pos := p.Pos(i); pos.File == "" || pos.Line < 1 {
				t.Fatalf("line %d maps to %v", i, pos)
			}
		}
		d, err := LoadDirectory("/c/main.xml", DirectoryOptions{FS: fsys, CoreVars: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		checkUsers(t, d)
	})
}
