package ctrl

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"testing"
	"time"
)

// rawToken builds a token by hand: any header, any claims, an HMAC with
// the given hash (nil: an empty signature), whatever the header says.
func rawToken(t *testing.T, header, claims map[string]any, secret string, h func() hash.Hash) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	s := enc(header) + "." + enc(claims)
	if h == nil {
		return s + "."
	}
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestJWTVerifyRules: HS256 only (no alg confusion), exp or expires
// required, the earlier of the two wins, nbf honoured, 30 s leeway on both.
func TestJWTVerifyRules(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1_800_000_000, 0)
	v := NewJWTVerifier(secret)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	good := map[string]any{"login": "a@d", "exp": at(time.Hour)}
	hs := func(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT"} }
	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"hs256", rawToken(t, hs("HS256"), good, secret, sha256.New), nil},
		{"alg none, no signature", rawToken(t, hs("none"), good, secret, nil), ErrTokenAlg},
		{"alg none, HMAC signature", rawToken(t, hs("none"), good, secret, sha256.New), ErrTokenAlg},
		{"alg NONE", rawToken(t, hs("NONE"), good, secret, nil), ErrTokenAlg},
		{"RS256 signed with the secret as HMAC key", rawToken(t, hs("RS256"), good, secret, sha256.New), ErrTokenAlg},
		{"ES256 signed with the secret", rawToken(t, hs("ES256"), good, secret, sha256.New), ErrTokenAlg},
		{"HS512 with the secret", rawToken(t, hs("HS512"), good, secret, sha512.New), ErrTokenAlg},
		{"no alg", rawToken(t, map[string]any{"typ": "JWT"}, good, secret, sha256.New), ErrTokenAlg},
		{"unknown alg", rawToken(t, hs("XX999"), good, secret, sha256.New), ErrTokenAlg},
		{"hs256 other secret", rawToken(t, hs("HS256"), good, "other", sha256.New), ErrTokenSignature},
		{"missing exp", rawToken(t, hs("HS256"), map[string]any{"login": "a@d"}, secret, sha256.New), ErrTokenNoExpiry},
		{"missing exp, nbf only", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "nbf": at(-time.Hour)}, secret, sha256.New), ErrTokenNoExpiry},
		{"expires instead of exp", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "expires": at(time.Hour)}, secret, sha256.New), nil},
		{"expires passed, exp not", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(time.Hour), "expires": at(-time.Hour)}, secret, sha256.New), ErrTokenExpired},
		{"exp passed, expires not", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(-time.Hour), "expires": at(time.Hour)}, secret, sha256.New), ErrTokenExpired},
		{"exp 20 s ago: leeway", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(-20 * time.Second)}, secret, sha256.New), nil},
		{"exp 40 s ago", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(-40 * time.Second)}, secret, sha256.New), ErrTokenExpired},
		{"nbf in the future", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(2 * time.Hour), "nbf": at(time.Hour)}, secret, sha256.New), ErrTokenExpired},
		{"nbf 20 s ahead: leeway", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(time.Hour), "nbf": at(20 * time.Second)}, secret, sha256.New), nil},
		{"nbf 40 s ahead", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(time.Hour), "nbf": at(40 * time.Second)}, secret, sha256.New), ErrTokenExpired},
		{"nbf passed", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": at(time.Hour), "nbf": at(-time.Hour)}, secret, sha256.New), nil},
		{"exp a string", rawToken(t, hs("HS256"), map[string]any{"login": "a@d", "exp": "soon"}, secret, sha256.New), ErrTokenMalformed},
		{"claims an array", "eyJhbGciOiJIUzI1NiJ9.W10.x", ErrTokenMalformed},
		{"four parts", rawToken(t, hs("HS256"), good, secret, sha256.New) + ".x", ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.tok, now)
			if tc.want == nil {
				if err != nil || c == nil || c.LoginName() != "a@d" {
					t.Fatalf("Verify = %+v, %v; want the claims", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSignJWTRoundTrip: SignJWT's tokens verify and keep every claim.
func TestSignJWTRoundTrip(t *testing.T) {
	now := time.Now()
	tok, err := SignJWT("k", Claims{UserID: "7", Domain: "d", Expires: now.Add(time.Minute).Unix(), SessionUUID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewJWTVerifier("k").Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginName() != "7@d" || c.SessionUUID != "s" || c.ExpiresAt().Unix() != now.Add(time.Minute).Unix() {
		t.Fatalf("claims %+v", c)
	}
	if _, err := SignJWT("k", []int{1}); err == nil {
		t.Fatal("SignJWT of an array: no error")
	}
}
