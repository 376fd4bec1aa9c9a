package ctrl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrXUIRejected: the xui_sessid endpoint did not accept the token.
var ErrXUIRejected = errors.New("ctrl: xui_sessid rejected")

// XUIChecker validates loginParams.xui_sessid against an HTTP endpoint:
//
//	POST <url>  Content-Type: application/json
//	{"xui_sessid":"<token>","login":"<login as sent>","sessid":"<socket sessid>"}
//
// A 200 answer accepts the token. Its JSON body may name the user
// ({"login":"1000@example.com"}, else the client's login is used) and add
// "expires" (epoch seconds), "caller_id_name", "caller_id_number". A 5xx
// status, or no answer, decides nothing (the login is refused as Directory
// Unavailable, not counted against the client); any other status rejects
// the token.
type XUIChecker struct {
	URL     string
	Client  *http.Client
	Timeout time.Duration
	// slots, when set, bounds the checks in flight (NewXUIChecker):
	// the others wait their turn, within their Timeout.
	slots chan struct{}
}

// NewXUIChecker returns a checker of url that has at most maxLookups checks
// in flight, so that a login storm (or one client's sockets) neither opens
// a connection per login, spending the file descriptors XCtrl keeps for
// NATS, nor sends the endpoint every check at once. A nil client is one
// whose connections to the endpoint are bounded alike.
func NewXUIChecker(url string, client *http.Client, timeout time.Duration) *XUIChecker {
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = maxLookups, maxLookups
		client = &http.Client{Transport: tr}
	}
	return &XUIChecker{URL: url, Client: client, Timeout: timeout, slots: make(chan struct{}, maxLookups)}
}

// XUIReply is the optional body of an accepting answer.
type XUIReply struct {
	Login          string `json:"login,omitempty"`
	Expires        int64  `json:"expires,omitempty"`
	CallerIDName   string `json:"caller_id_name,omitempty"`
	CallerIDNumber string `json:"caller_id_number,omitempty"`
}

// Check asks the endpoint about token.
func (x *XUIChecker) Check(ctx context.Context, token, login, sessid string) (*XUIReply, error) {
	if x.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.Timeout)
		defer cancel()
	}
	if x.slots != nil {
		select {
		case x.slots <- struct{}{}:
			defer func() { <-x.slots }()
		case <-ctx.Done():
			return nil, fmt.Errorf("ctrl: xui check: waiting for one of %d in flight: %w", cap(x.slots), ctx.Err())
		}
	}
	body, _ := json.Marshal(map[string]string{"xui_sessid": token, "login": login, "sessid": sessid})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := x.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ctrl: xui check: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("ctrl: xui check: HTTP %d", resp.StatusCode) // undecided
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: HTTP %d", ErrXUIRejected, resp.StatusCode)
	}
	var r XUIReply
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%w: body: %v", ErrXUIRejected, err)
		}
	}
	return &r, nil
}
