package verto

// The user lookup: XCtrl asks a FreeSWITCH node to find a user with
// FreeSWITCH's own directory lookup (switch_xml_locate_user_merged, as
// mod_verto's login does), so that whatever directory backend the switch
// has (XML files, mod_xml_curl, Lua, ODBC) serves XCtrl's logins unchanged.
// Additions only.

// MethodXrtcLookupUser is the ctrl->node request (on the any-node queue
// subject, Subjects.AnyNode) that looks a user up. Params LookupUserParams;
// result LookupUserResult. A node whose switch cannot look users up answers
// CodeMethodNotFound with MsgLookupUnsupported.
const MethodXrtcLookupUser = "xrtc.lookupUser"

// LookupUserParams are the params of xrtc.lookupUser.
type LookupUserParams struct {
	CtrlUUID string `json:"ctrl_uuid,omitempty"`
	// ID and Domain are the login's user and domain as mod_verto derives
	// them (after chop-domain and force-register-domain).
	ID     string `json:"id"`
	Domain string `json:"domain"`
	// A1, when set, is the md5 hex of "id:domain:passwd" for the password
	// the client gave (the password itself does not travel): the node checks
	// it as mod_verto checks a password (the first password param, a later
	// jsonrpc-password or a1-hash replacing it), hashing a stored password
	// the same way. Without it the node only looks the user up (token
	// logins).
	A1 string `json:"a1,omitempty"`
	// LoginParams are the client's loginParams as mod_verto hands them to
	// the directory lookup (strings; booleans as "true"/"false"), so that a
	// mod_xml_curl backend sees what it sees from mod_verto. The node adds
	// action=jsonrpc-authenticate.
	LoginParams map[string]string `json:"login_params,omitempty"`
}

// Lookup verdicts.
const (
	LookupOK          = "ok"           // found (and the password matched, when one was given)
	LookupNotFound    = "not_found"    // the directory has no such user
	LookupBadPassword = "bad_password" // found, the password did not match
)

// LookupUserResult is the node's answer to xrtc.lookupUser.
type LookupUserResult struct {
	NodeUUID string `json:"node_uuid,omitempty"`
	Verdict  string `json:"verdict"`
	// User is the user FreeSWITCH found (with Verdict LookupOK), its params
	// and variables merged with its group's and domain's. Params holding
	// credentials (password, jsonrpc-password, a1-hash, vm-password ...)
	// are left out.
	User *DirectoryUser `json:"user,omitempty"`
}

// DirectoryUser is a user as a switch's directory gives it.
type DirectoryUser struct {
	ID          string            `json:"id"`
	NumberAlias string            `json:"number_alias,omitempty"`
	Domain      string            `json:"domain"`
	Group       string            `json:"group,omitempty"`
	Params      []NameValue       `json:"params,omitempty"` // in the directory's order
	Variables   map[string]string `json:"variables,omitempty"`
}

// NameValue is one <param> or <variable>.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MsgLookupUnsupported is the message of a node that cannot look users up.
const MsgLookupUnsupported = "USER LOOKUP NOT SUPPORTED"

// Messages of logins XCtrl could not decide because the user lookup
// failed: not the client's fault, so not counted as failed logins.
const (
	MsgDirectoryUnavailable = "Directory Unavailable"
)
