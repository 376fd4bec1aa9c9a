package verto

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{` [ ] `, true},
		{`{"a":[1,-2.5e+3,0,true,false,null,"x\u00e9\n"],"b":{"c":{}}}`, true},
		{`"\/\b\f\r\t\\\""`, true},
		{`-0.0e0`, true},
		{``, false},
		{` `, false},
		{`{`, false},
		{`{"a"}`, false},
		{`{"a":}`, false},
		{`{"a":1,}`, false},
		{`[1,]`, false},
		{`[1 2]`, false},
		{`{"a":1}}`, false},
		{`{} {}`, false},
		{`01`, false},
		{`1.`, false},
		{`.5`, false},
		{`1e`, false},
		{`+1`, false},
		{`-`, false},
		{`tru`, false},
		{`nul`, false},
		{`truex`, false},
		{`"abc`, false},
		{`"\x"`, false},
		{`"\u12g4"`, false},
		{"\"a\tb\"", false},
		{`{1:2}`, false},
		{`[}`, false},
		{`{]`, false},
		{`{"a" 1}`, false},
	}
	for _, tt := range tests {
		err := validate([]byte(tt.in), 64)
		if (err == nil) != tt.want {
			t.Errorf("validate(%q) = %v, want ok=%v", tt.in, err, tt.want)
		}
		if got := json.Valid([]byte(tt.in)); got != tt.want {
			t.Errorf("the table is wrong: json.Valid(%q) = %v", tt.in, got)
		}
	}
}

func TestValidateDepth(t *testing.T) {
	at := func(n int) []byte { return []byte(strings.Repeat(`{"a":[`, n/2) + strings.Repeat(`]}`, n/2)) }
	if err := validate(at(64), 64); err != nil {
		t.Errorf("64 deep, limit 64: %v", err)
	}
	if err := validate(at(66), 64); !errors.Is(err, errTooDeep) {
		t.Errorf("66 deep, limit 64: %v, want errTooDeep", err)
	}
}

// FuzzValidate: validate agrees with encoding/json.Valid on everything
// within the depth limit, and so does the object parser (which validates
// as it goes) on everything that opens an object.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"1000@x","passwd":"1234"}}`,
		`[1,2.5e-3,"\u00e9",true,null,{"a":[]}]`, `-0`, `"\\"`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := validate(b, 1000)
		if errors.Is(err, errTooDeep) {
			return
		}
		want := json.Valid(b)
		if (err == nil) != want {
			t.Fatalf("validate(%q) = %v, json.Valid = %v", b, err, want)
		}
		if isObject(b) {
			var o Object
			if err := parseObjectFast(&o, b, 1000, true); (err == nil) != want && !errors.Is(err, errTooDeep) {
				t.Fatalf("parseObjectFast(%q) = %v, json.Valid = %v", b, err, want)
			}
		}
	})
}

// FuzzLoginParams: the hand-written decoding of login params agrees with
// encoding/json's on every valid input.
func FuzzLoginParams(f *testing.F) {
	for _, s := range []string{`{"login":"1000@example.com","passwd":"1234","sessid":"abc","loginParams":{},"userVariables":{}}`,
		`{"Login":"a","login":"b"}`, `{"loginParams":{"a":1},"loginParams":{"b":"x"}}`, `{"login":5}`, `{"sessid":null,"passwd":"\u00e9\n"}`,
		`{"login":"\xff"}`, `{"x":[1,{"y":2}],"login":"z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		type plain LoginParams
		var want plain
		wantErr := json.Unmarshal(b, &want)
		var got LoginParams
		gotErr := got.UnmarshalJSON(b)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%s: err %v, encoding/json %v", b, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		g, _ := json.Marshal(plain(got))
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("%s: got %s, encoding/json %s", b, g, w)
		}
	})
}

// manyKeys is a JSON object of n distinct keys, then the first key again.
func manyKeys(n int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `"k%x":%d,`, i, i)
	}
	b.WriteString(`"k0":"last"}`)
	return []byte(b.String())
}

// TestObjectManyKeys: an object of thousands of keys (a hostile frame's
// params: 256 KiB hold about 29,000) keeps encoding/json's meaning (the
// last of a repeated key wins, order kept) and is read through its key
// index: the duplicate check once compared every key with every other, and
// one such frame cost seconds of CPU. BenchmarkDecode/many-keys has the
// time a key.
func TestObjectManyKeys(t *testing.T) {
	b := manyKeys(3000)
	var o Object
	if err := o.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if o.Len() != 3000 || o.String("k0") != "last" || o.Keys()[1] != "k1" {
		t.Fatalf("len %d, k0 %q, second key %q", o.Len(), o.String("k0"), o.Keys()[1])
	}
	if len(o.index) != o.Len() {
		t.Fatalf("%d keys, %d indexed: duplicates are looked for key by key", o.Len(), len(o.index))
	}
	o.Delete("k1")
	o.SetRaw("new", []byte(`1`))
	if raw, ok := o.Raw("k2"); !ok || string(raw) != "2" || o.Has("k1") || !o.Has("new") || o.Len() != 3000 {
		t.Fatalf("after an edit: k2 %s %v, k1 %v, new %v, len %d", raw, ok, o.Has("k1"), o.Has("new"), o.Len())
	}
	if len(o.index) != o.Len() {
		t.Fatalf("after an edit: %d keys, %d indexed", o.Len(), len(o.index))
	}
}

// TestPlainRun: plainRun stops where a byte-at-a-time scan stops, for every
// byte value at every offset of a word, alone and followed by every other
// (the borrow of one byte's test reaches the next), from every start.
func TestPlainRun(t *testing.T) {
	// want: the first special byte in the whole words from i on, else
	// the start of the last partial word (the byte loop's part).
	want := func(b []byte, i int) int {
		words := i + (len(b)-i)/8*8
		for j := i; j < words; j++ {
			if c := b[j]; c == '"' || c == '\\' || c < 0x20 {
				return j
			}
		}
		return words
	}
	check := func(b []byte) {
		t.Helper()
		for i := range b {
			if got, want := plainRun(b, i), want(b, i); got != want {
				t.Fatalf("plainRun(%q, %d) = %d, want %d", b, i, got, want)
			}
		}
	}
	for p := 0; p < 16; p++ {
		for v := 0; v < 256; v++ {
			b := []byte(strings.Repeat("a", 20))
			b[p] = byte(v)
			check(b)
		}
	}
	for v1 := 0; v1 < 256; v1++ {
		for v2 := 0; v2 < 256; v2++ {
			b := []byte("abc--defghijklmnop")
			b[3], b[4] = byte(v1), byte(v2)
			check(b)
		}
	}
}
