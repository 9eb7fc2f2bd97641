package adapters

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/platform/services/users/internal/app"
)

func newTokens(t *testing.T, kid string) *JWTTokens {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	tk, err := NewJWTTokens(kid, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestJWTTokens_IssueAndParse(t *testing.T) {
	tk := newTokens(t, "k1")
	exp := time.Now().Add(15 * time.Minute).Truncate(time.Second)
	s, err := tk.Issue(app.Claims{UserID: "u", SessionID: "s", Roles: []string{"member"}, Region: "eu", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "u" || c.SessionID != "s" || c.Region != "eu" || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("claims %+v", c)
	}
	tok, _, _ := jwt.NewParser().ParseUnverified(s, jwt.MapClaims{})
	if tok.Header["kid"] != "k1" || tok.Header["alg"] != "EdDSA" {
		t.Fatalf("header %v", tok.Header)
	}
}

func TestJWTTokens_RejectsEveryForgery(t *testing.T) {
	tk := newTokens(t, "k1")
	other := newTokens(t, "k1") // same kid, different key
	claims := app.Claims{UserID: "u", SessionID: "s", ExpiresAt: time.Now().Add(time.Minute)}
	good, _ := tk.Issue(claims)
	parts := strings.Split(good, ".")
	otherKey, _ := other.Issue(claims)
	expired, _ := tk.Issue(app.Claims{UserID: "u", SessionID: "s", ExpiresAt: time.Now().Add(-time.Minute)})
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + "."
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "sid": "s", "iss": Issuer, "aud": Audience,
		"exp": time.Now().Add(time.Minute).Unix()})
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte(tk.public["k1"]))
	unknownKid := newTokens(t, "k2")
	kid2, _ := unknownKid.Issue(claims)
	noSession, _ := tk.Issue(app.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Minute)})
	for name, s := range map[string]string{
		"other key":      otherKey,
		"expired":        expired,
		"alg none":       none,
		"hs256":          hsToken,
		"unknown kid":    kid2,
		"no session":     noSession,
		"tampered":       parts[0] + "." + parts[1] + "x." + parts[2],
		"empty":          "",
		"two parts only": parts[0] + "." + parts[1],
	} {
		if _, err := tk.Parse(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestArgon2id_VerifiesOnlyTheRightPassword(t *testing.T) {
	h, err := DefaultArgon2id.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := DefaultArgon2id.Verify("correct horse battery", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := DefaultArgon2id.Verify("correct horse batterz", h); ok {
		t.Fatal("wrong password verified")
	}
	// A hash made with other parameters still verifies: they travel in the string.
	cheap := Argon2id{Memory: 8 * 1024, Time: 1, Threads: 1}
	h2, _ := cheap.Hash("pw")
	if ok, _ := DefaultArgon2id.Verify("pw", h2); !ok {
		t.Fatal("hash with other parameters did not verify")
	}
	if _, err := DefaultArgon2id.Verify("pw", "$2a$10$bcrypt"); err == nil {
		t.Fatal("a non-argon2 hash was accepted")
	}
}
