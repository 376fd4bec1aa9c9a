package verto

import "strings"

// APIPermissions are the directory's jsonrpc-allowed-jsapi and
// jsonrpc-allowed-fsapi of a logged-in user, as XCtrl asserts them to
// nodes in params.xrtc_user beside User's fields. A nil list allows
// everything (__ANY__, a user without directory data); an empty one
// nothing (the directory leaves it unset). XCtrl checks them before it
// relays jsapi or fsapi, and the node that runs the command checks them
// again, as mod_verto's jsapi_func and fsapi_func do.
type APIPermissions struct {
	AllowedJSAPI []string `json:"allowed_jsapi,omitempty"`
	AllowedFSAPI []string `json:"allowed_fsapi,omitempty"`
}

// SneakyCommands are the API commands that run the command in their
// argument (mod_verto's auth_api_command): that one must be allowed too.
var SneakyCommands = []string{"bgapi", "sched_api", "eval", "expand", "xml_wrap"}

// JSAPIAllowed is mod_verto's check of a jsapi request: with a list, its
// command must be in jsonrpc-allowed-jsapi (by name, any case), and the
// data.cmd (with data.arg) of a jsapi "fsapi" command must pass FSAPIAllowed
// when there is an fsapi list. A request without a command is the JSON
// API's to refuse.
func (p *APIPermissions) JSAPIAllowed(params *Object) bool {
	if p == nil || p.AllowedJSAPI == nil {
		return true
	}
	var command string
	if !params.Get("command", &command) {
		return true
	}
	if !listed(p.AllowedJSAPI, command) {
		return false
	}
	if command != "fsapi" || p.AllowedFSAPI == nil {
		return true
	}
	var data Object
	if !params.Get("data", &data) {
		return true
	}
	var cmd string
	if !data.Get("cmd", &cmd) {
		return true // not a string: the command refuses it
	}
	return p.FSAPIAllowed(cmd, data.String("arg")) // a non-string arg counts as none
}

// FSAPIAllowed is mod_verto's auth_api_command: with a list, cmd must be in
// jsonrpc-allowed-fsapi (by name, any case), and when it is one that runs
// another command (bgapi, expand ...), so must the first word of arg, and so
// on down the chain.
func (p *APIPermissions) FSAPIAllowed(cmd, arg string) bool {
	if p == nil || p.AllowedFSAPI == nil {
		return true
	}
	words := append([]string{cmd}, strings.Split(arg, " ")...)
	for i, w := range words {
		if !listed(p.AllowedFSAPI, w) {
			return false
		}
		sneaky := false
		for _, s := range SneakyCommands {
			sneaky = sneaky || strings.EqualFold(s, w)
		}
		if !sneaky || i+1 >= len(words) || (i == 0 && arg == "") {
			return true
		}
	}
	return true
}

// listed: a name in a permission list, any case (mod_verto's lists are
// event headers).
func listed(list []string, name string) bool {
	for _, a := range list {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}
