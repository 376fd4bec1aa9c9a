package client

import (
	"context"
	"encoding/json"

	"xccrtc/verto"
)

// FSAPI runs a switch API command (Verto's fsapi {cmd, arg}) and returns
// its output (result.message: "INVALID CALL" when the command does not
// exist). The server refuses it with -32601 when fsapi is off and -32602
// when the user may not run cmd.
func (c *Client) FSAPI(ctx context.Context, cmd, arg string) (string, error) {
	p := map[string]any{"sessid": c.sessid, "cmd": cmd}
	if arg != "" {
		p["arg"] = arg
	}
	r, err := c.request(ctx, verto.MethodFSAPI, p, 0)
	if err != nil {
		return "", err
	}
	var res verto.MessageResult
	err = r.DecodeResult(&res)
	return res.Message, err
}

// JSAPI runs a switch JSON API command (Verto's jsapi {command, data}) and
// returns its response as the server sends it.
func (c *Client) JSAPI(ctx context.Context, command string, data any) (json.RawMessage, error) {
	r, err := c.request(ctx, verto.MethodJSAPI, map[string]any{"sessid": c.sessid, "command": command, "data": data}, 0)
	if err != nil {
		return nil, err
	}
	return r.Result, nil
}

// SendChat sends a chat message outside any call (verto.info msg) with
// extra msg fields (a switch copies from_* and to_* ones into its MESSAGE
// event).
func (c *Client) SendChat(ctx context.Context, to, body string, fields map[string]string) error {
	msg := map[string]any{"to": to, "body": body}
	for k, v := range fields {
		msg[k] = v
	}
	_, err := c.request(ctx, verto.MethodInfo, map[string]any{"sessid": c.sessid, "msg": msg}, 0)
	return err
}
