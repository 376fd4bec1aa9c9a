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

// maxPooledRequest: a larger frame's buffer (an invite with a big SDP,
// say) is left to the garbage collector rather than kept.
const maxPooledRequest = 16 << 10

// resultFrame writes {"jsonrpc":"2.0","id":<id>,"result":<result>} in one
// buffer, result being a JSON object (a node's result as it came) to which
// the socket's node_uuid and sessid are added when it lacks them and they
// are not empty. It reports false when result is not an object.
func resultFrame(id verto.ID, result json.RawMessage, node, sessid string) ([]byte, bool) {
	n := 0 // result's members
	hasNode, hasSessid := false, false
	if verto.EachMember(result, func(key []byte, _ json.RawMessage) error {
		n++
		switch string(key) {
		case verto.KeyNodeUUID:
			hasNode = true
		case verto.KeySessid:
			hasSessid = true
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
	// Both members, quoted, with their ':' and ',' (escapes may grow it).
	size := len(`{"jsonrpc":"2.0","id":,"result":}`) + len(idb) + len(result) +
		len(verto.KeyNodeUUID) + len(node) + len(verto.KeySessid) + len(sessid) + 12
	b := make([]byte, 0, size)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idb...)
	b = append(b, `,"result":`...)
	b = append(b, result[:end]...)
	member := func(key, val string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = verto.AppendString(b, key)
		b = append(b, ':')
		b = verto.AppendString(b, val)
	}
	if node != "" && !hasNode {
		member(verto.KeyNodeUUID, node)
	}
	if sessid != "" && !hasSessid {
		member(verto.KeySessid, sessid)
	}
	return append(b, "}}"...), true
}
