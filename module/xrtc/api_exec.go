package xrtc

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"xccrtc/verto"
)

// jsapi and fsapi: a client runs the switch's API commands, as mod_verto's
// jsapi_func and fsapi_func let it. XCtrl relays them only when enabled
// (--enable-jsapi, --enable-fsapi) and allowed; the node checks the user's
// jsonrpc-allowed-jsapi / -fsapi again (params.xrtc_user, verto.APIPermissions)
// and runs the command in the switch.

// APIRunner is an optional Host method set: a switch that runs its API
// commands for clients implements it. Without it jsapi and fsapi answer
// -32601.
type APIRunner interface {
	// ExecuteAPI runs an API command with its argument (FreeSWITCH:
	// switch_api_execute) and returns its output. An error means the
	// command does not exist or failed: fsapi then answers "INVALID CALL".
	ExecuteAPI(cmd, arg string) (string, error)
	// ExecuteJSONAPI runs a JSON API request {command, data, ...}
	// (FreeSWITCH: switch_json_api_execute) and returns its response.
	// ErrNoJSONAPI: no such JSON API command (or no data).
	ExecuteJSONAPI(req json.RawMessage) (json.RawMessage, error)
}

// ErrNoJSONAPI: the switch has no such JSON API command, or the request has
// no data (mod_verto then answers -32602 Permission Denied).
var ErrNoJSONAPI = errors.New("xrtc: invalid request or non-existent JSON API command")

// MaxAPIRunning bounds the jsapi and fsapi commands a node runs at once; more
// are refused (an API command may run for long).
const MaxAPIRunning = 32

// apiParams are what the node reads of jsapi and fsapi.
type apiParams struct {
	Sessid   string `json:"sessid"`
	CtrlUUID string `json:"ctrl_uuid"`
	XrtcUser *struct {
		verto.User
		verto.APIPermissions
	} `json:"xrtc_user"`
}

// fsapiResult is fsapi's result: the command's output, or INVALID CALL.
type fsapiResult struct {
	Message  string `json:"message"`
	NodeUUID string `json:"node_uuid,omitempty"`
}

// msgInvalidCall is fsapi's answer to a command that does not exist or
// failed.
const msgInvalidCall = "INVALID CALL"

// runAPI handles jsapi and fsapi.
func (e *Endpoint) runAPI(r *request) {
	var p apiParams
	var obj verto.Object
	if err := r.msg.DecodeParams(&p); err != nil || len(r.msg.Params) == 0 || obj.UnmarshalJSON(r.msg.Params) != nil {
		e.respond(r, nil, verto.ErrPermission)
		return
	}
	if !e.checkIdents(r, p.CtrlUUID, p.Sessid, "") {
		return
	}
	runner, ok := e.host.(APIRunner)
	if !ok {
		e.respond(r, nil, verto.ErrMethodNotFound)
		return
	}
	if p.XrtcUser == nil {
		// Only a logged-in socket runs commands: XCtrl always says who.
		e.respond(r, nil, verto.ErrPermission)
		return
	}
	perms := &p.XrtcUser.APIPermissions
	if r.msg.Method == verto.MethodFSAPI {
		var cmd string
		if obj.Get("cmd", &cmd) && !perms.FSAPIAllowed(cmd, obj.String("arg")) {
			e.warnQuiet("xrtc: fsapi refused by jsonrpc-allowed-fsapi", "login", p.XrtcUser.Login, "cmd", cmd)
			e.respond(r, nil, verto.ErrPermission)
			return
		}
	} else if !perms.JSAPIAllowed(&obj) {
		e.warnQuiet("xrtc: jsapi refused by jsonrpc-allowed-jsapi", "login", p.XrtcUser.Login, "command", obj.String("command"))
		e.respond(r, nil, verto.ErrPermission)
		return
	}
	if e.apiRunning.Add(1) > MaxAPIRunning {
		e.apiRunning.Add(-1)
		e.respond(r, nil, &verto.Error{Code: verto.CodeSessionError, Message: "TOO MANY API COMMANDS RUNNING"})
		return
	}
	started := e.spawn(r.msg.Method, func() {
		defer e.apiRunning.Add(-1)
		if r.msg.Method == verto.MethodFSAPI {
			e.fsapi(r, runner, &obj)
		} else {
			e.jsapi(r, runner, &obj, &p.XrtcUser.User)
		}
	})
	if !started {
		e.apiRunning.Add(-1)
		e.respond(r, nil, &verto.Error{Code: verto.CodeSessionError, Message: "SYSTEM SHUTDOWN"})
	}
}

// fsapi is mod_verto's fsapi_func: {message: output}, or INVALID CALL.
func (e *Endpoint) fsapi(r *request, runner APIRunner, obj *verto.Object) {
	res := fsapiResult{Message: msgInvalidCall, NodeUUID: e.nodeUUID}
	var cmd string
	if obj.Get("cmd", &cmd) && cmd != "" {
		out, err := runner.ExecuteAPI(cmd, obj.String("arg"))
		if err == nil {
			res.Message = out
		} else {
			e.log.Info("xrtc: fsapi command failed", "cmd", cmd, "err", err)
		}
	}
	e.respond(r, res, nil)
}

// jsapi is mod_verto's jsapi_func: the request, without the bus's fields
// and with the socket's data (sockData) added, goes to the switch's JSON
// API; its response is the result.
func (e *Endpoint) jsapi(r *request, runner APIRunner, obj *verto.Object, u *verto.User) {
	for _, k := range []string{verto.KeyCtrlUUID, verto.KeyNodeUUID, verto.KeyXrtcUser} {
		obj.Delete(k)
	}
	obj.Set("sockData", sockData(u))
	req, err := obj.MarshalJSON()
	if err != nil {
		e.respond(r, nil, verto.AsError(err))
		return
	}
	out, err := runner.ExecuteJSONAPI(req)
	if err != nil {
		if !errors.Is(err, ErrNoJSONAPI) {
			e.warnQuiet("xrtc: jsapi failed", "command", obj.String("command"), "err", err)
		}
		e.respond(r, nil, verto.ErrPermission) // mod_verto's answer when the JSON API gives nothing
		return
	}
	if len(out) > 0 && out[0] == '{' {
		// Every result of a node names it (the bus contract).
		if edited, err := verto.EditParams(out, func(o *verto.Object) { o.Set(verto.KeyNodeUUID, e.nodeUUID) }); err == nil {
			out = edited
		}
	}
	e.respond(r, json.RawMessage(out), nil)
}

// sockData is what mod_verto tells a JSON API command about the socket:
// who it is, from where, and the user's variables.
func sockData(u *verto.User) *verto.Object {
	o := &verto.Object{}
	o.Set("verto_id", u.ID)
	o.Set("verto_domain", u.Domain)
	o.Set("verto_user", u.Login)
	o.Set("presence_id", u.Login)
	o.Set("verto_client_address", clientAddress(u))
	o.Set("chat_proto", ChatProto)
	o.Set("verto_host", u.Domain)
	vars := map[string]string{}
	setUserVars(vars, u) // the client's userVariables, the directory's over them
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		o.Set(k, vars[k])
	}
	if u.CallerIDName != "" {
		o.Set("caller-id-name", u.CallerIDName)
	}
	if u.CallerIDNumber != "" {
		o.Set("caller-id-number", u.CallerIDNumber)
	}
	return o
}
