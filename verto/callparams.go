package verto

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// DecodeCallParams decodes m's params as CallParams: the same result and the
// same errors as DecodeParams into a new CallParams, at a fraction of the
// cost. A node reads one for every call-scoped message it is sent.
//
// The shapes a client and XCtrl send (string and boolean members, the
// dialogParams and xrtc_user objects, unknown keys) are read in one scan of
// the params; the members that hold other JSON (userVariables, audio, msg,
// txt, causeCode...) go through encoding/json one by one. Anything
// encoding/json would read differently from an exact match (a key that
// only matches a field's name when case is folded, a value of the wrong
// type) sends the whole params through encoding/json instead. Like
// DecodeParams, it takes params as Decode leaves them: valid JSON.
func (m *Message) DecodeCallParams() (*CallParams, error) {
	p := new(CallParams)
	if len(m.Params) == 0 || string(m.Params) == "null" {
		return p, nil
	}
	if eachMember(m.Params, DefaultLimits.MaxDepth, false, p.setMember) == nil {
		return p, nil
	}
	p = new(CallParams)
	return p, m.DecodeParams(p)
}

// errSlowPath stops a fast decode: encoding/json decodes the params.
var errSlowPath = errors.New("verto: decode with encoding/json")

// The json names of CallParams, DialogParams and User: a key that is none
// of them exactly but folds to one is left to encoding/json. A field added
// to a type goes in its list (TestCallParamsNames checks) and in its
// setMember; a listed name setMember does not read takes the slow path.
var callParamsNames = []string{"sessid", "sdp", "dialogParams", "node_uuid", "ctrl_uuid", "xrtc_user", "cause",
	"causeCode", "action", "destination", "replaceCallID", "dtmf", "msg", "txt", "command", "type",
	"callee_id_name", "callee_id_number", "echoParams"}

func (p *CallParams) setMember(key []byte, val json.RawMessage) error {
	ok := true
	switch string(key) {
	case "sessid":
		ok = setString(&p.Sessid, val)
	case "sdp":
		ok = setString(&p.SDP, val)
	case "dialogParams":
		ok = setObject(&p.DialogParams, val, (*DialogParams).setMember)
	case "node_uuid":
		ok = setString(&p.NodeUUID, val)
	case "ctrl_uuid":
		ok = setString(&p.CtrlUUID, val)
	case "xrtc_user":
		ok = setObject(&p.XrtcUser, val, (*User).setMember)
	case "cause":
		ok = setString(&p.Cause, val)
	case "causeCode":
		ok = setJSON(&p.CauseCode, val)
	case "action":
		ok = setString(&p.Action, val)
	case "destination":
		ok = setString(&p.Destination, val)
	case "replaceCallID":
		ok = setString(&p.ReplaceCallID, val)
	case "dtmf":
		ok = setString(&p.DTMF, val)
	case "msg":
		ok = setJSON(&p.Msg, val)
	case "txt":
		ok = setJSON(&p.Txt, val)
	case "command":
		ok = setJSON(&p.Command, val)
	case "type":
		ok = setString(&p.Type, val)
	case "callee_id_name":
		ok = setString(&p.CalleeIDName, val)
	case "callee_id_number":
		ok = setString(&p.CalleeIDNumber, val)
	case "echoParams":
		ok = setJSON(&p.EchoParams, val)
	default:
		ok = !foldsTo(key, callParamsNames)
	}
	if !ok {
		return errSlowPath
	}
	return nil
}

var dialogParamsNames = []string{"callID", "destination_number", "caller_id_name", "caller_id_number",
	"remote_caller_id_name", "remote_caller_id_number", "callee_id_name", "callee_id_number", "ani", "aniii",
	"rdnis", "login", "screenShare", "secondSource", "recoverCall", "dedEnc", "mirrorInput",
	"conferenceCanvasID", "outgoingBandwidth", "incomingBandwidth", "userVariables", "audio", "useVideo",
	"node_uuid", "variables"}

func (d *DialogParams) setMember(key []byte, val json.RawMessage) error {
	ok := true
	switch string(key) {
	case "callID":
		ok = setString(&d.CallID, val)
	case "destination_number":
		ok = setString(&d.DestinationNumber, val)
	case "caller_id_name":
		ok = setString(&d.CallerIDName, val)
	case "caller_id_number":
		ok = setString(&d.CallerIDNumber, val)
	case "remote_caller_id_name":
		ok = setString(&d.RemoteCallerIDName, val)
	case "remote_caller_id_number":
		ok = setString(&d.RemoteCallerIDNumber, val)
	case "callee_id_name":
		ok = setString(&d.CalleeIDName, val)
	case "callee_id_number":
		ok = setString(&d.CalleeIDNumber, val)
	case "ani":
		ok = setString(&d.ANI, val)
	case "aniii":
		ok = setString(&d.ANIII, val)
	case "rdnis":
		ok = setString(&d.RDNIS, val)
	case "login":
		ok = setString(&d.Login, val)
	case "screenShare":
		ok = setBool(&d.ScreenShare, val)
	case "secondSource":
		ok = setBool(&d.SecondSource, val)
	case "recoverCall":
		ok = setJSON(&d.RecoverCall, val)
	case "dedEnc":
		ok = setBool(&d.DedEnc, val)
	case "mirrorInput":
		ok = setBool(&d.MirrorInput, val)
	case "conferenceCanvasID":
		ok = setJSON(&d.ConferenceCanvasID, val)
	case "outgoingBandwidth":
		ok = setJSON(&d.OutgoingBandwidth, val)
	case "incomingBandwidth":
		ok = setJSON(&d.IncomingBandwidth, val)
	case "userVariables":
		ok = setJSON(&d.UserVariables, val)
	case "audio":
		ok = setJSON(&d.Audio, val)
	case "useVideo":
		ok = setJSON(&d.UseVideo, val)
	case "node_uuid":
		ok = setString(&d.NodeUUID, val)
	case "variables":
		ok = setStringMap(&d.Variables, val)
	default:
		ok = !foldsTo(key, dialogParamsNames)
	}
	if !ok {
		return errSlowPath
	}
	return nil
}

var userNames = []string{"login", "id", "domain", "context", "dialplan", "caller_id_name", "caller_id_number",
	"variables", "user_variables", "client_address", "client_port"}

func (u *User) setMember(key []byte, val json.RawMessage) error {
	ok := true
	switch string(key) {
	case "login":
		ok = setString(&u.Login, val)
	case "id":
		ok = setString(&u.ID, val)
	case "domain":
		ok = setString(&u.Domain, val)
	case "context":
		ok = setString(&u.Context, val)
	case "dialplan":
		ok = setString(&u.Dialplan, val)
	case "caller_id_name":
		ok = setString(&u.CallerIDName, val)
	case "caller_id_number":
		ok = setString(&u.CallerIDNumber, val)
	case "variables":
		ok = setStringMap(&u.Variables, val)
	case "user_variables":
		ok = setJSON(&u.UserVariables, val)
	case "client_address":
		ok = setString(&u.ClientAddress, val)
	case "client_port":
		ok = setInt(&u.ClientPort, val)
	default:
		ok = !foldsTo(key, userNames)
	}
	if !ok {
		return errSlowPath
	}
	return nil
}

// setString reads a JSON string into dst; null leaves dst as it is, as
// encoding/json does. Any other value is not for the fast path.
func setString(dst *string, val []byte) bool {
	if val[0] == 'n' {
		return true
	}
	s, ok := unquote(val)
	if ok {
		*dst = s
	}
	return ok
}

// setBool reads true, false or null (dst unchanged) into dst.
func setBool(dst *bool, val []byte) bool {
	switch val[0] {
	case 't':
		*dst = true
	case 'f':
		*dst = false
	case 'n':
	default:
		return false
	}
	return true
}

// setObject reads an object member into the struct *dst points to, made
// when nil and kept when the key comes again (encoding/json merges a
// repeated object into the same struct); null makes *dst nil.
func setObject[T any](dst **T, val []byte, set func(*T, []byte, json.RawMessage) error) bool {
	switch val[0] {
	case 'n':
		*dst = nil
		return true
	case '{':
	default:
		return false
	}
	if *dst == nil {
		*dst = new(T)
	}
	return eachMember(val, DefaultLimits.MaxDepth, false, func(key []byte, v json.RawMessage) error {
		return set(*dst, key, v)
	}) == nil
}

// setStringMap reads an object of strings into *dst, made when nil (an
// empty object makes an empty map) and added to when the key comes again;
// null makes *dst nil and a null value stores "", as encoding/json does.
func setStringMap(dst *map[string]string, val []byte) bool {
	switch val[0] {
	case 'n':
		*dst = nil
		return true
	case '{':
	default:
		return false
	}
	if *dst == nil {
		*dst = make(map[string]string)
	}
	return eachMember(val, DefaultLimits.MaxDepth, false, func(key []byte, v json.RawMessage) error {
		// encoding/json replaces invalid UTF-8 in a key.
		if !utf8.Valid(key) {
			return errSlowPath
		}
		s := ""
		if v[0] != 'n' {
			var ok bool
			if s, ok = unquote(v); !ok {
				return errSlowPath
			}
		}
		(*dst)[string(key)] = s
		return nil
	}) == nil
}

// setInt reads a JSON integer into dst; null leaves it as it is.
func setInt(dst *int, val []byte) bool {
	if val[0] == 'n' {
		return true
	}
	n, err := strconv.ParseInt(string(val), 10, strconv.IntSize)
	if err == nil {
		*dst = int(n)
	}
	return err == nil
}

// setJSON decodes one member with encoding/json, as it would inside the
// struct; an error sends the whole params there (for its error message).
func setJSON(dst any, val []byte) bool { return json.Unmarshal(val, dst) == nil }

// foldsTo reports whether key might be taken by encoding/json for one of
// names though it is none of them exactly: it matches one when case is
// folded, or it is not ASCII (encoding/json folds some other letters to
// ASCII ones, the Kelvin sign to k).
func foldsTo(key []byte, names []string) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if len(n) == len(key) && equalFoldASCII(key, n) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
