package ctrl

import (
	"encoding/json"
	"strconv"

	"xccrtc/verto"
)

// The relay's hot path writes JSON by hand: a few string values and raw
// values copied as they came, without a pass through encoding/json.

// jsonString returns s as a JSON string.
func jsonString(s string) json.RawMessage {
	return verto.AppendString(make([]byte, 0, len(s)+2), s)
}

// requestFrame writes {"jsonrpc":"2.0","id":"<id>","method":<method>,
// "params":<params>} in one buffer: the relay's request to a node, the
// client's params copied as they came with XCtrl's members set.
func requestFrame(id uint64, method string, params *verto.Object) []byte {
	// The whole frame: the id has at most 20 digits. A buffer a few bytes
	// short was copied again for its last bytes, on every relay.
	b := make([]byte, 0, len(`{"jsonrpc":"2.0","id":"","method":"","params":}`)+20+len(method)+params.JSONSize())
	b = append(b, `{"jsonrpc":"2.0","id":"`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","method":`...)
	b = verto.AppendString(b, method)
	b = append(b, `,"params":`...)
	b = params.AppendJSON(b)
	return append(b, '}')
}

// appendMembers adds members to the raw JSON object obj (which must be an
// object) for every key it does not have yet, without re-encoding obj.
func appendMembers(obj json.RawMessage, kv ...string) json.RawMessage {
	var o verto.Object
	if err := o.UnmarshalJSON(obj); err != nil {
		return obj
	}
	end := len(obj) - 1
	for end > 0 && obj[end] != '}' {
		end--
	}
	out := make([]byte, 0, len(obj)+64)
	out = append(out, obj[:end]...)
	n := o.Len()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" || o.Has(kv[i]) {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, jsonString(kv[i])...)
		out = append(out, ':')
		out = append(out, jsonString(kv[i+1])...)
	}
	return append(out, '}')
}

// resultFrame writes {"jsonrpc":"2.0","id":<id>,"result":<result>}.
func resultFrame(id verto.ID, result json.RawMessage) []byte {
	idb, _ := id.MarshalJSON()
	b := make([]byte, 0, len(result)+len(idb)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idb...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}
