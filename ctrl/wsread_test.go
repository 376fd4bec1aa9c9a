package ctrl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// recorder is a wsHandler that writes down what it got.
type recorder struct{ got []string }

func (r *recorder) message(d []byte)    { r.got = append(r.got, "msg:"+string(d)) }
func (r *recorder) tooLarge(n int64)    { r.got = append(r.got, fmt.Sprint("too-large:", n)) }
func (r *recorder) ping(p []byte)       { r.got = append(r.got, "ping:"+string(p)) }
func (r *recorder) pong()               { r.got = append(r.got, "pong") }
func (r *recorder) fragment()           { r.got = append(r.got, "frag") }
func (r *recorder) closeFrame(p []byte) { r.got = append(r.got, fmt.Sprintf("close:%x", p)) }

// clientFrame is a masked frame as a browser sends it.
func clientFrame(t testing.TB, op ws.OpCode, fin bool, p string) []byte {
	t.Helper()
	f := ws.MaskFrame(ws.NewFrame(op, fin, []byte(p)))
	b, err := ws.CompileFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWSReader(t *testing.T) {
	big := string(bytes.Repeat([]byte("x"), 70000))
	cases := []struct {
		name   string
		frames [][]byte
		want   []string
		bad    bool
	}{
		{"one text", [][]byte{clientFrame(t, ws.OpText, true, `{"a":1}`)}, []string{`msg:{"a":1}`}, false},
		{"binary too", [][]byte{clientFrame(t, ws.OpBinary, true, "b")}, []string{"msg:b"}, false},
		{"two in a row", [][]byte{clientFrame(t, ws.OpText, true, "1"), clientFrame(t, ws.OpText, true, "2")}, []string{"msg:1", "msg:2"}, false},
		{"64 KiB+ payload (8-byte length)", [][]byte{clientFrame(t, ws.OpText, true, big)}, []string{"msg:" + big}, false},
		{"fragments with a ping between", [][]byte{clientFrame(t, ws.OpText, false, "ab"), clientFrame(t, ws.OpPing, true, "p"),
			clientFrame(t, ws.OpContinuation, false, "cd"), clientFrame(t, ws.OpContinuation, true, "ef")}, []string{"frag", "ping:p", "frag", "msg:abcdef"}, false},
		{"too large, then fine", [][]byte{clientFrame(t, ws.OpText, true, string(bytes.Repeat([]byte("y"), 2000))), clientFrame(t, ws.OpText, true, "ok")},
			[]string{"too-large:2000", "msg:ok"}, false},
		{"too large across fragments", [][]byte{clientFrame(t, ws.OpText, false, string(bytes.Repeat([]byte("y"), 600))),
			clientFrame(t, ws.OpContinuation, false, string(bytes.Repeat([]byte("y"), 600))),
			clientFrame(t, ws.OpContinuation, true, "z"), clientFrame(t, ws.OpText, true, "ok")}, []string{"too-large:1201", "msg:ok"}, false},
		{"far too large", [][]byte{clientFrame(t, ws.OpText, true, string(bytes.Repeat([]byte("y"), 4097)))}, nil, true},
		{"far too large across fragments", [][]byte{clientFrame(t, ws.OpText, false, string(bytes.Repeat([]byte("y"), 1500))),
			clientFrame(t, ws.OpContinuation, false, string(bytes.Repeat([]byte("y"), 1500))),
			clientFrame(t, ws.OpContinuation, true, string(bytes.Repeat([]byte("y"), 1500)))}, []string{"frag"}, true},
		{"pong", [][]byte{clientFrame(t, ws.OpPong, true, "q"), clientFrame(t, ws.OpText, true, "m")}, []string{"pong", "msg:m"}, false},
		{"close", [][]byte{clientFrame(t, ws.OpClose, true, "\x03\xe8")}, []string{"close:03e8"}, false},
		{"unmasked", [][]byte{ws.MustCompileFrame(ws.NewTextFrame([]byte("x")))}, nil, true},
		{"continuation first", [][]byte{clientFrame(t, ws.OpContinuation, true, "x")}, nil, true},
		{"text inside a fragmented message", [][]byte{clientFrame(t, ws.OpText, false, "a"), clientFrame(t, ws.OpText, true, "b")}, nil, true},
		{"fragmented ping", [][]byte{clientFrame(t, ws.OpPing, false, "a")}, nil, true},
		{"reserved opcode", [][]byte{clientFrame(t, ws.OpCode(3), true, "a")}, nil, true},
	}
	for _, tc := range cases {
		stream := bytes.Join(tc.frames, nil)
		// Every way of cutting the stream in two, and one byte at a time.
		cuts := [][]int{{len(stream)}, {1, len(stream)}}
		for i := 1; i < len(stream) && i < 40; i++ {
			cuts = append(cuts, []int{i, len(stream)})
		}
		ones := []int{}
		for i := 1; i <= len(stream) && len(stream) < 5000; i++ {
			ones = append(ones, i)
		}
		if len(ones) > 0 {
			cuts = append(cuts, ones)
		}
		for _, cut := range cuts {
			r := &wsReader{max: 1024 * 100}
			if strings.Contains(tc.name, "too large") {
				r.max = 1024
			}
			var rec recorder
			var err error
			prev := 0
			for _, c := range cut {
				chunk := bytes.Clone(stream[prev:c]) // the caller reuses its buffer
				if err = r.feed(chunk, &rec); err != nil {
					break
				}
				for i := range chunk {
					chunk[i] = 0xAA
				}
				prev = c
			}
			if tc.bad {
				if tooBig := strings.HasPrefix(tc.name, "far too large"); err == nil || tooBig != errors.Is(err, errTooBig) {
					t.Errorf("%s: error %v", tc.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s (cut %v): %v", tc.name, len(cut), err)
			}
			if fmt.Sprint(rec.got) != fmt.Sprint(tc.want) {
				t.Fatalf("%s (cuts %d): got %.200q, want %.200q", tc.name, len(cut), rec.got, tc.want)
			}
			if !r.idle() {
				t.Fatalf("%s: reader keeps a buffer after whole frames", tc.name)
			}
		}
	}
}

// FuzzWSReader: any byte stream, cut anywhere, neither panics nor keeps
// more than a frame's worth.
func FuzzWSReader(f *testing.F) {
	f.Add(clientFrame(f, ws.OpText, true, `{"jsonrpc":"2.0"}`), 3)
	f.Add(append(clientFrame(f, ws.OpText, false, "a"), clientFrame(f, ws.OpContinuation, true, "b")...), 5)
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 2)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		r := &wsReader{max: 1024}
		var rec recorder
		if cut <= 0 || cut > len(b) {
			cut = len(b)
		}
		if err := r.feed(b[:cut], &rec); err != nil {
			return
		}
		_ = r.feed(b[cut:], &rec)
		if len(r.pend) > 1024+ws.MaxHeaderSize || len(r.msg) > 1024 {
			t.Fatalf("reader holds %d+%d bytes", len(r.pend), len(r.msg))
		}
	})
}
