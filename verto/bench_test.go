package verto

import (
	"encoding/json"
	"testing"
)

// relayed is a verto.info as XCtrl relays it to a node: the shape every
// call message has on the bus.
var relayed = []byte(`{"jsonrpc":"2.0","id":"1","method":"verto.info","params":{"dtmf":"1","dialogParams":{"callID":"relay-call",` +
	`"destination_number":"9196","caller_id_name":"Bench","caller_id_number":"1000"},"sessid":"bench-0123456789",` +
	`"ctrl_uuid":"4c0e6f0a-1b2c-4d5e-8f90-123456789abc","node_uuid":"bench","xrtc_user":{"login":"1000@example.com",` +
	`"id":"1000","domain":"example.com"}}}`)

// BenchmarkDecode: the checks and decoding a relay hop pays per message,
// with encoding/json's own validity check for comparison.
func BenchmarkDecode(b *testing.B) {
	b.Run("DecodeMessage", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := DecodeMessage(relayed, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("params", func(b *testing.B) {
		m, err := DecodeMessage(relayed, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var o Object
			if err := o.UnmarshalJSON(m.Params); err != nil {
				b.Fatal(err)
			}
			if o.String(KeySessid) == "" || o.String(KeyCtrlUUID) == "" {
				b.Fatal("no sessid or ctrl_uuid")
			}
		}
	})
	b.Run("many-keys", func(b *testing.B) {
		// A hostile frame's params: about 29,000 keys in 256 KiB.
		params := manyKeys(29000)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var o Object
			if err := o.UnmarshalJSON(params); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/29000, "ns/key")
	})
	b.Run("validate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := validate(relayed, DefaultLimits.MaxDepth); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !json.Valid(relayed) {
				b.Fatal("invalid")
			}
		}
	})
}
