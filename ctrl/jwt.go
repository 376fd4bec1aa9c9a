package ctrl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token errors.
var (
	// ErrTokenMalformed: not three base64url parts of JSON (a claim of the
	// wrong JSON type too).
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
// expires, session_uuid). They implement jwt.Claims: the expiry the library
// checks is the earlier of exp and expires.
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

// The jwt.Claims methods: exp is the earlier of exp and expires.

func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return numericDate(c.ExpiresAt()), nil
}
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) {
	if c.Nbf == 0 {
		return nil, nil
	}
	return numericDate(time.Unix(c.Nbf, 0)), nil
}
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return nil, nil }
func (c *Claims) GetIssuer() (string, error)             { return "", nil }
func (c *Claims) GetSubject() (string, error)            { return c.Sub, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

// JWTVerifier checks HS256 tokens signed with one secret (golang-jwt).
type JWTVerifier struct {
	secret []byte
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
}

// NewJWTVerifier returns a verifier for secret.
func NewJWTVerifier(secret string) *JWTVerifier {
	return &JWTVerifier{secret: []byte(secret), Leeway: 30 * time.Second}
}

// Verify checks the token's algorithm (HS256 and nothing else: not none,
// not an RSA or EC algorithm keyed with the secret), signature and validity
// window (exp or expires required, nbf honoured, both with Leeway) and
// returns its claims.
func (v *JWTVerifier) Verify(tok string, now time.Time) (*Claims, error) {
	var c Claims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	t, err := p.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, ErrTokenAlg
		}
		return v.secret, nil
	})
	if err == nil {
		return &c, nil
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	case t != nil && t.Header["alg"] != jwt.SigningMethodHS256.Alg():
		return nil, ErrTokenAlg
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, ErrTokenSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, ErrTokenNoExpiry
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, ErrTokenExpired
	}
	return nil, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
}

// SignJWT makes an HS256 token of claims, any value that marshals to a JSON
// object (for tests and tools).
func SignJWT(secret string, claims any) (string, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	var mc jwt.MapClaims
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // integers stay integers
	if err := d.Decode(&mc); err != nil {
		return "", fmt.Errorf("ctrl: claims must be a JSON object: %w", err)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString([]byte(secret))
}
