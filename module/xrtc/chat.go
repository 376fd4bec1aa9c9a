package xrtc

import (
	"encoding/json"
	"errors"
	"strings"

	"xccrtc/verto"
)

// Chat both ways, as mod_verto does it (verto__info_func's msg branch,
// chat_send, verto_send_chat), over NATS: a client's verto.info msg becomes
// a MESSAGE event of the switch (Host.SendChat), and a message the switch
// sends on the endpoint's chat protocol reaches the user's sockets on
// whichever XCtrl holds them (SendChatToUser).

// ChatProto is the endpoint's chat protocol: the name of its chat
// interface in the switch (FreeSWITCH: `chat xrtc|from|to|body`, the chat
// plan's send, a SIP MESSAGE to xrtc+user), the proto of the MESSAGE events
// its clients send (so that a reply comes back here), and the chat_proto
// variable of its channels (mod_conference's chat to members). mod_verto's
// is "verto".
const ChatProto = "xrtc"

// clientChat is the Chat of a client's verto.info msg (p.Msg, and msg as
// sent): the sender is the login XCtrl asserts, the context the user's
// (user_context, else the directory's verto-context, else the profile's),
// and the msg's from_* and to_* fields ride along as headers (mod_verto's
// verto__info_func).
func (e *Endpoint) clientChat(p *verto.CallParams, msg *verto.Object, prof *Profile, callID string) Chat {
	m := p.Msg
	chat := Chat{To: m.To, Body: m.Body, Sessid: p.Sessid, InDialog: m.InDialog}
	if u := p.XrtcUser; u != nil {
		chat.From = u.Login
		chat.Context = firstNonEmpty(u.Variables["user_context"], u.Context)
	}
	if prof != nil {
		chat.Profile = prof.Name
		chat.Context = firstNonEmpty(chat.Context, prof.context())
	}
	if m.InDialog {
		chat.CallID = callID
	}
	for _, k := range msg.Keys() {
		if !verto.IsChatHeader(k) {
			continue
		}
		if v := msg.String(k); v != "" {
			if chat.Headers == nil {
				chat.Headers = map[string]string{}
			}
			chat.Headers[k] = v
		}
	}
	return chat
}

// UserChat is a chat message the switch sends to a WebRTC user on the
// endpoint's chat protocol (FreeSWITCH: a MESSAGE event handed to the
// "xrtc" chat interface).
type UserChat struct {
	From string // the sender, as the event names it
	To   string // user@domain: every socket logged in as that
	Body string
	// CallID, when it names an xrtc call of this node whose socket is
	// known, sends the message to that socket only (an in-dialog message).
	CallID string
	// Headers are the event's from_* and to_* headers; they go into the
	// message as mod_verto copies them.
	Headers map[string]string
}

// ErrBadChat: a chat message without from, to or body (mod_verto refuses
// those as INVALID EVENT).
var ErrBadChat = errors.New("xrtc: a chat message needs from, to and body")

// SendChatToUser delivers a message to the user's sockets as mod_verto's
// chat_send does: a verto.info {callID?, msg:{from, to, body, from_*,
// to_*}} to the socket of the call the message names, else to every socket
// logged in as To (an address without '@' reaches nobody, as in mod_verto).
// It returns at once; the sockets are found (xrtc.contact) and written to in
// the background, one message after the other, so that messages arrive in
// the order they were sent.
func (e *Endpoint) SendChatToUser(m UserChat) error {
	if m.To == "" || m.From == "" || m.Body == "" {
		return ErrBadChat
	}
	if !strings.Contains(m.To, "@") {
		e.infoQuiet("xrtc: chat to an address without a domain reaches nobody", "to", m.To)
		return nil
	}
	msg := verto.Object{}
	msg.Set("from", m.From)
	msg.Set("to", m.To)
	msg.Set("body", m.Body)
	for k, v := range m.Headers {
		if verto.IsChatHeader(k) {
			msg.Set(k, v)
		}
	}
	params := verto.Object{}
	if m.CallID != "" {
		params.Set(verto.KeyCallID, m.CallID)
	}
	params.Set("msg", &msg)
	if !e.run(&e.chatQ, "chat to user", func() { e.deliverChat(m, &params) }) {
		return ErrStopped
	}
	return nil
}

// deliverChat writes one message to its sockets (on the chat queue).
func (e *Endpoint) deliverChat(m UserChat, params *verto.Object) {
	send := func(ctrl, sessid string) {
		params.Set(verto.KeySessid, sessid)
		params.Set(verto.KeyNodeUUID, e.nodeUUID)
		b, err := params.MarshalJSON()
		if err == nil {
			err = e.publish(e.subjects.Ctrl(ctrl), verto.MethodInfo, json.RawMessage(b), true)
		}
		if err != nil {
			e.warnQuiet("xrtc: chat not sent", "to", m.To, "sessid", sessid, "ctrl_uuid", ctrl, "err", err)
		}
	}
	if c := e.lookup(m.CallID); c != nil && m.CallID != "" {
		c.mu.Lock()
		sessid, ctrl := c.sessid, c.ctrlUUID
		c.mu.Unlock()
		if sessid != "" && ctrl != "" {
			send(ctrl, sessid)
			return
		}
	}
	prof := e.inboundProfile()
	subject := e.subjects.CtrlRTC()
	if prof != nil {
		subject = e.config().ctrlSubject(prof)
	}
	socks, err := e.contacts(e.ctx, subject, m.To)
	if err != nil {
		e.warnQuiet("xrtc: chat not sent: the user's sockets are unknown", "to", m.To, "err", err)
		return
	}
	if len(socks) == 0 {
		e.infoQuiet("xrtc: chat to a user with no socket", "to", m.To)
	}
	for _, s := range socks {
		send(s.CtrlUUID, s.Sessid)
	}
}
