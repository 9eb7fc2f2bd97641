// Package accesstoken is the platform's access token format, shared by users (which signs tokens)
// and the gateway (which verifies them itself, with the public keys users publishes): EdDSA
// (Ed25519) JWTs naming their key in the kid header, issuer acme-users, audience acme-platform, with
// the session id (sid), the roles and the region.
package accesstoken

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience of access tokens; a token of another issuer or audience never passes.
const (
	Issuer   = "acme-users"
	Audience = "acme-platform"
	// Leeway is the clock skew tolerated on expiry and issue times.
	Leeway = 5 * time.Second
)

// JWTClaims is the token's payload.
type JWTClaims struct {
	jwt.RegisteredClaims
	SessionID string   `json:"sid"`
	Roles     []string `json:"roles"`
	Region    string   `json:"region"`
}

// Claims is what a verified token says.
type Claims struct {
	UserID, SessionID string
	Roles             []string
	Region            string
	ExpiresAt         time.Time
}

// ErrUnknownKey is returned for a token signed with a key that keys does not hold (one newer than
// the verifier's copy of the key set, or a forgery).
var ErrUnknownKey = errors.New("accesstoken: unknown key id")

// Verify checks a token: EdDSA only (so "none" and HMAC tricks fail), a key of keys by kid, our
// issuer and audience, an expiry in the future; and that it names a subject and a session.
func Verify(token string, keys map[string]ed25519.PublicKey, now func() time.Time) (Claims, error) {
	var claims JWTClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		key, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
		}
		return key, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(now),
		jwt.WithLeeway(Leeway),
	)
	if err != nil {
		return Claims{}, err
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return Claims{}, errors.New("accesstoken: no subject or session")
	}
	return Claims{UserID: claims.Subject, SessionID: claims.SessionID, Roles: claims.Roles, Region: claims.Region,
		ExpiresAt: claims.ExpiresAt.Time}, nil
}
