package ctrl

import (
	"encoding/json"
	"strconv"
	"sync"

	"xccrtc/verto"
)

// The relay's hot path writes JSON by hand: a few string values and raw
// values copied as they came, without a pass through encoding/json.

// jsonString returns s as a JSON string.
func jsonString(s string) json.RawMessage {
	return verto.AppendString(make([]byte, 0, len(s)+2), s)
}

// requestFrame appends {"jsonrpc":"2.0","id":"<id>","method":<method>,
// "params":<params>} to dst, growing it at most once: the relay's request
// to a node, the client's params copied as they came with XCtrl's members
// set.
func requestFrame(dst []byte, id uint64, method string, params *verto.Object) []byte {
	// The whole frame: the id has at most 20 digits. A buffer a few bytes
	// short was copied again for its last bytes, on every relay.
	if need := len(`{"jsonrpc":"2.0","id":"","method":"","params":}`) + 20 + len(method) + params.JSONSize(); cap(dst)-len(dst) < need {
		b := make([]byte, len(dst), len(dst)+need)
		copy(b, dst)
		dst = b
	}
	b := append(dst, `{"jsonrpc":"2.0","id":"`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","method":`...)
	b = verto.AppendString(b, method)
	b = append(b, `,"params":`...)
	b = params.AppendJSON(b)
	return append(b, '}')
}

// requestBufs hold the relay's request frames while they are published
// (the bus copies what it sends).
var requestBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledRequest: a larger frame's buffer (an invite with a big SDP
// says) is left to the garbage collector rather than kept.
const maxPooledRequest = 16 << 10

// resultFrame writes {"jsonrpc":"2.0","id":<id>,"result":<result>} in one
// buffer, result being a JSON object (a node's result as it came) to which
// kv's members (key, value, key, value...) are added for each key it does
// not have and each value that is not empty: the socket's node_uuid and
// sessid. It reports false when result is not an object.
func resultFrame(id verto.ID, result json.RawMessage, kv ...string) ([]byte, bool) {
	var have [4]bool // which of kv's keys result has (up to 4 pairs)
	n := 0           // result's members
	if len(kv) > 2*len(have) {
		panic("ctrl: resultFrame takes up to 4 members")
	}
	if verto.EachMember(result, func(key []byte, _ json.RawMessage) error {
		n++
		for i := 0; i+1 < len(kv); i += 2 {
			if string(key) == kv[i] {
				have[i/2] = true
			}
		}
		return nil
	}) != nil {
		return nil, false
	}
	end := len(result) - 1
	for end > 0 && result[end] != '}' {
		end--
	}
	idb, _ := id.MarshalJSON()
	size := len(`{"jsonrpc":"2.0","id":,"result":}`) + len(idb) + len(result)
	for i := 0; i+1 < len(kv); i += 2 {
		size += len(kv[i]) + len(kv[i+1]) + 6 // two quoted strings, ':' and ','
	}
	b := make([]byte, 0, size)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idb...)
	b = append(b, `,"result":`...)
	b = append(b, result[:end]...)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" || have[i/2] {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = verto.AppendString(b, kv[i])
		b = append(b, ':')
		b = verto.AppendString(b, kv[i+1])
	}
	return append(b, "}}"...), true
}
