package verto

import (
	"encoding/json"
	"fmt"
)

// Object is the top level of a JSON object, decoded one level deep: keys in
// their original order with their values left as raw JSON. Relays use it to
// read, add or replace a few params and write everything else back unchanged.
type Object struct {
	fields []field
	// index finds a key's field once the object has more than indexFrom
	// keys: an object of thousands of keys (a hostile frame) is read and
	// edited in linear time, not quadratic.
	index map[string]int
}

// indexFrom is the size beyond which an Object indexes its keys; below it
// a scan of the keys is cheaper than a map.
const indexFrom = 16

// A field's key is its unescaped name; like the value it may share the
// parsed input's bytes.
type field struct {
	key []byte
	val json.RawMessage
}

// ParseObject decodes the top level of the JSON object b.
func ParseObject(b []byte) (*Object, error) {
	o := new(Object)
	if err := parseObjectFast(o, b, DefaultLimits.MaxDepth, true); err != nil {
		return nil, fmt.Errorf("verto: object: %w", err)
	}
	return o, nil
}

// Len is the number of keys.
func (o *Object) Len() int { return len(o.fields) }

// Keys returns the keys in order.
func (o *Object) Keys() []string {
	ks := make([]string, len(o.fields))
	for i, f := range o.fields {
		ks[i] = string(f.key)
	}
	return ks
}

// Raw returns the raw value of key k.
func (o *Object) Raw(k string) (json.RawMessage, bool) {
	if i := o.find(k); i >= 0 {
		return o.fields[i].val, true
	}
	return nil, false
}

// find returns the index of key k's field, or -1.
func (o *Object) find(k string) int {
	if o.index != nil {
		if i, ok := o.index[k]; ok {
			return i
		}
		return -1
	}
	for i := range o.fields {
		if string(o.fields[i].key) == k {
			return i
		}
	}
	return -1
}

// add appends a field for a key the object does not have yet.
func (o *Object) add(key []byte, val json.RawMessage) {
	o.fields = append(o.fields, field{key: key, val: val})
	switch {
	case o.index != nil:
		o.index[string(key)] = len(o.fields) - 1
	case len(o.fields) > indexFrom:
		o.index = make(map[string]int, 2*len(o.fields))
		for i, f := range o.fields {
			o.index[string(f.key)] = i
		}
	}
}

// Has reports whether key k is present.
func (o *Object) Has(k string) bool { _, ok := o.Raw(k); return ok }

// Get decodes the value of key k into v; it reports false when k is absent or
// does not decode into v.
func (o *Object) Get(k string, v any) bool {
	raw, ok := o.Raw(k)
	return ok && json.Unmarshal(raw, v) == nil
}

// String returns the string value of k, or "" when absent or not a string.
func (o *Object) String(k string) string {
	raw, _ := o.Raw(k)
	s, _ := unquote(raw)
	return s
}

// Set marshals v under key k, replacing an existing value in place or
// appending a new key at the end. A value that cannot be marshalled is
// stored as null.
func (o *Object) Set(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	o.SetRaw(k, b)
}

// SetRaw stores the raw JSON value under key k.
func (o *Object) SetRaw(k string, raw json.RawMessage) {
	if i := o.find(k); i >= 0 {
		o.fields[i].val = raw
		return
	}
	o.add([]byte(k), raw)
}

// Delete removes key k.
func (o *Object) Delete(k string) {
	if i := o.find(k); i >= 0 {
		o.fields = append(o.fields[:i], o.fields[i+1:]...)
		o.index = nil // the later fields moved: rebuilt when the object grows
	}
}

// MarshalJSON writes the object with its keys in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	return o.AppendJSON(make([]byte, 0, o.JSONSize())), nil
}

// JSONSize is the size of the object's JSON when no key needs escapes (a
// buffer of this size takes AppendJSON without growing).
func (o *Object) JSONSize() int {
	n := 2
	for _, f := range o.fields {
		n += len(f.key) + max(len(f.val), len("null")) + 4
	}
	return n
}

// AppendJSON appends the object to b, keys in order and values as they
// are, and returns the extended buffer.
func (o *Object) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range o.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, f.key)
		b = append(b, ':')
		if len(f.val) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, f.val...)
		}
	}
	return append(b, '}')
}

// UnmarshalJSON decodes the top level of a JSON object. Values are kept as
// written (validated only for structure and nesting: the object is part of
// a checked frame); a duplicate key keeps its last value, as encoding/json
// does.
func (o *Object) UnmarshalJSON(b []byte) error {
	if err := parseObjectFast(o, b, DefaultLimits.MaxDepth, false); err != nil {
		return fmt.Errorf("verto: object: %w", err)
	}
	return nil
}

// EditParams applies fn to the top level of raw params (an empty object if
// raw is empty) and returns the new params.
func EditParams(raw json.RawMessage, fn func(*Object)) (json.RawMessage, error) {
	o := new(Object)
	if len(raw) > 0 && string(raw) != "null" {
		if err := parseObjectFast(o, raw, DefaultLimits.MaxDepth, false); err != nil {
			return nil, fmt.Errorf("verto: params: %w", err)
		}
	}
	fn(o)
	return o.MarshalJSON()
}
