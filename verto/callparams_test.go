package verto

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// callParamsCases are params DecodeCallParams must read exactly as
// DecodeParams does: the shapes clients and XCtrl send, and the ones that
// take encoding/json's own path.
var callParamsCases = []struct {
	name   string
	params string
	fast   bool // read without falling back to encoding/json
}{
	{"relayed info", `{"dtmf":"1","dialogParams":{"callID":"c1","destination_number":"9196"},"sessid":"s","ctrl_uuid":"x",` +
		`"node_uuid":"n","xrtc_user":{"login":"1000@example.com","id":"1000","domain":"example.com"}}`, true},
	{"verto.js invite", `{"sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","dialogParams":{"useVideo":false,"useStereo":true,` +
		`"screenShare":false,"useCamera":"default","useMic":"any","useSpeak":"any","tag":"webcam","localTag":null,` +
		`"login":"1000@example.com","videoParams":{},"callID":"c2","destination_number":"9196","caller_id_name":"Me",` +
		`"caller_id_number":"1000","dedEnc":false,"mirrorInput":false,"userVariables":{"a":1,"b":"x"},` +
		`"audio":{"echoCancellation":true},"outgoingBandwidth":"default","incomingBandwidth":5000,"recoverCall":true},` +
		`"sessid":"s"}`, true},
	{"bye with causeCode number", `{"cause":"NORMAL_CLEARING","causeCode":16,"dialogParams":{"callID":"c"}}`, true},
	{"modify", `{"action":"hold","dialogParams":{"callID":"c"}}`, true},
	{"chat", `{"msg":{"to":"1001","body":"hi"},"dialogParams":{"callID":"c"}}`, true},
	{"raw members", `{"txt":{"code":65},"command":["a"],"echoParams":null,"type":"x"}`, true},
	{"escaped strings", `{"sessid":"a\"b\u00e9\n","dialogParams":{"callID":"\ud83d\ude00"}}`, true},
	{"invalid utf-8 in a string", "{\"sessid\":\"a\xffb\"}", true},
	{"unknown keys ignored", `{"foo":{"bar":[1,2]},"sessid":"s","zz":7}`, true},
	{"null members", `{"sessid":null,"dialogParams":null,"xrtc_user":null,"msg":null,"causeCode":null}`, true},
	{"repeated object merges", `{"dialogParams":{"callID":"a","login":"l"},"dialogParams":{"callID":"b"}}`, true},
	{"repeated object after null", `{"dialogParams":{"callID":"a"},"dialogParams":null,"dialogParams":{"login":"l"}}`, true},
	{"repeated map merges", `{"dialogParams":{"userVariables":{"a":1},"userVariables":{"b":2}}}`, true},
	{"user variables", `{"xrtc_user":{"login":"l","variables":{"k":"v"},"user_variables":{"x":[1]},"client_address":"::1",` +
		`"client_port":5060}}`, true},
	{"string maps", `{"xrtc_user":{"variables":{"a":"1","b":null,"a":"2","\u00e9":"x"}},"dialogParams":{"variables":{}}}`, true},
	{"string map null", `{"xrtc_user":{"variables":{"a":"1"},"variables":null}}`, true},
	{"directory user", `{"xrtc_user":` + directoryUser + `}`, true},
	{"empty", `{}`, true},
	{"whitespace", " { \"sessid\" : \"s\" , \"dialogParams\" : { } } ", true},

	{"key differing in case", `{"SDP":"v=0","sessid":"s"}`, false},
	{"nested key differing in case", `{"dialogParams":{"CallID":"c"}}`, false},
	{"Kelvin sign folds to k", "{\"xrtc_user\":{\"\u212aey\":\"v\"}}", false},
	{"number for a string", `{"sessid":5}`, false},
	{"object for a string", `{"dialogParams":{"callID":{}}}`, false},
	{"string for a bool", `{"dialogParams":{"screenShare":"yes"}}`, false},
	{"array for an object", `{"dialogParams":[1]}`, false},
	{"string for an object", `{"xrtc_user":"me"}`, false},
	{"object for causeCode", `{"causeCode":{}}`, false},
	{"number in a string map", `{"xrtc_user":{"variables":{"a":1}}}`, false},
	{"invalid utf-8 in a map key", "{\"xrtc_user\":{\"variables\":{\"a\xff\":\"1\"}}}", false},
	{"port null", `{"xrtc_user":{"client_port":null}}`, true},
	{"negative port", `{"xrtc_user":{"client_port":-0}}`, true},
	{"port past int64", `{"xrtc_user":{"client_port":92233720368547758070}}`, false},
	{"port with exponent", `{"xrtc_user":{"client_port":1e3}}`, false},
	{"fraction for a port", `{"xrtc_user":{"client_port":1.5}}`, false},
	{"not an object", `["sessid"]`, false},
	{"a string", `"s"`, false},
}

func TestDecodeCallParams(t *testing.T) {
	for _, tc := range callParamsCases {
		t.Run(tc.name, func(t *testing.T) {
			checkCallParams(t, []byte(tc.params))
			var p CallParams
			fast := eachMember([]byte(tc.params), DefaultLimits.MaxDepth, false, p.setMember) == nil
			if fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestCallParamsNames: every json name of the three types is in the list
// the fast path checks folded keys against.
func TestCallParamsNames(t *testing.T) {
	for _, tc := range []struct {
		typ   reflect.Type
		names []string
	}{
		{reflect.TypeFor[CallParams](), callParamsNames},
		{reflect.TypeFor[DialogParams](), dialogParamsNames},
		{reflect.TypeFor[User](), userNames},
	} {
		var tags []string
		for f := range tc.typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			tags = append(tags, name)
		}
		if !slices.Equal(tags, tc.names) {
			t.Errorf("%s: json names %q, list %q", tc.typ, tags, tc.names)
		}
	}
}

// checkCallParams fails when DecodeCallParams and DecodeParams into a new
// CallParams disagree on params.
func checkCallParams(t *testing.T, params []byte) {
	t.Helper()
	m := &Message{Params: params}
	got, gerr := m.DecodeCallParams()
	want := new(CallParams)
	werr := m.DecodeParams(want)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("params %q: error %v, want %v", params, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("params %q:\n got %s\nwant %s", params, g, w)
	}
}

func TestDecodeCallParamsAllocations(t *testing.T) {
	m, err := DecodeMessage(relayed, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The struct, dialogParams, xrtc_user and nine strings; encoding/json
	// makes about twice as many.
	if n := testing.AllocsPerRun(100, func() { _, _ = m.DecodeCallParams() }); n > 14 {
		t.Errorf("%v allocations per decode, want at most 14", n)
	}
}

func FuzzDecodeCallParams(f *testing.F) {
	for _, tc := range callParamsCases {
		f.Add([]byte(tc.params))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		// Params reach it as Decode leaves them: valid JSON.
		if !json.Valid(params) {
			return
		}
		checkCallParams(t, params)
	})
}

// directoryUser is an xrtc_user as XCtrl asserts it for a user of
// FreeSWITCH's stock directory: its variables ride on every relayed message.
const directoryUser = `{"login":"1000@127.0.0.1","id":"1000","domain":"127.0.0.1","context":"default",` +
	`"variables":{"accountcode":"1000","callgroup":"techsupport","default_areacode":"918",` +
	`"default_gateway":"example.com","effective_caller_id_name":"Extension 1000","effective_caller_id_number":"1000",` +
	`"outbound_caller_id_name":"FreeSWITCH","outbound_caller_id_number":"0000000000","record_stereo":"true",` +
	`"toll_allow":"domestic,international,local","transfer_fallback_extension":"operator","user_context":"default"},` +
	`"client_address":"127.0.0.1","client_port":50432}`

// BenchmarkDecodeCallParams: a relayed verto.info's params, with a bare
// user and with a directory user, read by DecodeCallParams and by
// encoding/json (DecodeParams).
func BenchmarkDecodeCallParams(b *testing.B) {
	bare, err := DecodeMessage(relayed, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	dir := &Message{Params: []byte(`{"dtmf":"1","dialogParams":{"callID":"relay-call","destination_number":"9196"},` +
		`"sessid":"bench-0123456789","ctrl_uuid":"4c0e6f0a-1b2c-4d5e-8f90-123456789abc","node_uuid":"bench",` +
		`"xrtc_user":` + directoryUser + `}`)}
	for _, tc := range []struct {
		name string
		m    *Message
	}{{"bare-user", bare}, {"directory-user", dir}} {
		b.Run(tc.name+"/DecodeCallParams", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, err := tc.m.DecodeCallParams(); err != nil || p.CallID() == "" {
					b.Fatal("not decoded", err)
				}
			}
		})
		b.Run(tc.name+"/DecodeParams", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := new(CallParams)
				if err := tc.m.DecodeParams(p); err != nil || p.CallID() == "" {
					b.Fatal("not decoded", err)
				}
			}
		})
	}
}

// BenchmarkDecodeCallParamsManyKeys: a hostile message's params, about
// 29,000 unknown keys in 256 KiB, against encoding/json's cost for them.
func BenchmarkDecodeCallParamsManyKeys(b *testing.B) {
	m := &Message{Params: manyKeys(29000)}
	b.Run("DecodeCallParams", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.DecodeCallParams(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeParams", func(b *testing.B) {
		for b.Loop() {
			if err := m.DecodeParams(new(CallParams)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
