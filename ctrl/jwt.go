package ctrl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token errors.
var (
	// ErrTokenMalformed: not three base64url parts of JSON.
	ErrTokenMalformed = errors.New("ctrl: token malformed")
	// ErrTokenAlg: the header names another algorithm than HS256.
	ErrTokenAlg = errors.New("ctrl: token algorithm is not HS256")
	// ErrTokenSignature: the signature does not match the secret.
	ErrTokenSignature = errors.New("ctrl: token signature mismatch")
	// ErrTokenExpired: exp (or expires) has passed, or nbf is in the future.
	ErrTokenExpired = errors.New("ctrl: token expired or not yet valid")
	// ErrTokenNoExpiry: the token has neither exp nor expires.
	ErrTokenNoExpiry = errors.New("ctrl: token has no expiry")
)

// Claims are the claims of an xcc_token: the standard exp/nbf/sub and the
// claim set of XSwitch's cMan getJWT (user_id, username, domain, login,
// expires, session_uuid).
type Claims struct {
	Exp         int64  `json:"exp,omitempty"`
	Nbf         int64  `json:"nbf,omitempty"`
	Sub         string `json:"sub,omitempty"`
	Expires     int64  `json:"expires,omitempty"`
	Login       string `json:"login,omitempty"`
	Username    string `json:"username,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Domain      string `json:"domain,omitempty"`
	SessionUUID string `json:"session_uuid,omitempty"`
}

// LoginName is the user@domain the token asserts: login, else
// username@domain or user_id@domain, else sub.
func (c *Claims) LoginName() string {
	switch {
	case c.Login != "":
		if !strings.Contains(c.Login, "@") && c.Domain != "" {
			return c.Login + "@" + c.Domain
		}
		return c.Login
	case c.Username != "" && c.Domain != "":
		return c.Username + "@" + c.Domain
	case c.UserID != "" && c.Domain != "":
		return c.UserID + "@" + c.Domain
	}
	return c.Sub
}

// ExpiresAt is the earlier of exp and expires.
func (c *Claims) ExpiresAt() time.Time {
	e := c.Exp
	if c.Expires > 0 && (e == 0 || c.Expires < e) {
		e = c.Expires
	}
	if e == 0 {
		return time.Time{}
	}
	return time.Unix(e, 0)
}

// JWTVerifier checks HS256 tokens signed with one secret.
type JWTVerifier struct {
	secret []byte
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
}

// NewJWTVerifier returns a verifier for secret.
func NewJWTVerifier(secret string) *JWTVerifier {
	return &JWTVerifier{secret: []byte(secret), Leeway: 30 * time.Second}
}

// Verify checks the token's algorithm, signature and validity window and
// returns its claims.
func (v *JWTVerifier) Verify(tok string, now time.Time) (*Claims, error) {
	h, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, ErrTokenMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, ErrTokenMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, ErrTokenMalformed
	}
	if hdr.Alg != "HS256" {
		return nil, ErrTokenAlg
	}
	sb, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	mac := hmac.New(sha256.New, v.secret)
	mac.Write([]byte(tok[:len(h)+1+len(p)]))
	if !hmac.Equal(sb, mac.Sum(nil)) {
		return nil, ErrTokenSignature
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrTokenMalformed, err)
	}
	exp := c.ExpiresAt()
	if exp.IsZero() {
		return nil, ErrTokenNoExpiry
	}
	if now.After(exp.Add(v.Leeway)) {
		return nil, ErrTokenExpired
	}
	if c.Nbf > 0 && now.Add(v.Leeway).Before(time.Unix(c.Nbf, 0)) {
		return nil, ErrTokenExpired
	}
	return &c, nil
}

// SignJWT makes an HS256 token of claims (for tests and tools).
func SignJWT(secret string, claims any) (string, error) {
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(pb)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}
