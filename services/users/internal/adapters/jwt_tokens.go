package adapters

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/platform/services/platform/accesstoken"
	"github.com/acme/platform/services/users/internal/app"
)

// Token issuer and audiences: a token of another issuer or for another audience never passes, so an
// action token (mailed in a link) can never be used as an access token, nor the other way round.
const (
	Issuer         = accesstoken.Issuer
	Audience       = accesstoken.Audience
	ActionAudience = "acme-users-actions"
)

// JWTTokens signs access tokens with Ed25519 (alg EdDSA) and names the key in the kid header, so keys
// can rotate: verification picks the key by kid.
type JWTTokens struct {
	kid     string
	private ed25519.PrivateKey
	public  map[string]ed25519.PublicKey
	now     func() time.Time
}

// NewJWTTokens builds tokens from a PEM (PKCS#8) Ed25519 private key.
func NewJWTTokens(kid, privatePEM string) (*JWTTokens, error) {
	if kid == "" {
		return nil, errors.New("signing key has no kid")
	}
	block, _ := pem.Decode([]byte(privatePEM))
	if block == nil {
		return nil, errors.New("signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key is %T, want Ed25519", k)
	}
	return &JWTTokens{kid: kid, private: priv, public: map[string]ed25519.PublicKey{kid: priv.Public().(ed25519.PublicKey)}, now: time.Now}, nil
}

// SigningKeySecret is the secret-store entry holding the current key: fields kid and private-key.
const SigningKeySecret = "jwt-signing-key"

// LoadJWTTokens reads the signing key from the Dapr secret store.
func LoadJWTTokens(ctx context.Context, client dapr.Client, store string) (*JWTTokens, error) {
	sec, err := client.GetSecret(ctx, store, SigningKeySecret, nil)
	if err != nil {
		return nil, fmt.Errorf("read secret %s from %s: %w", SigningKeySecret, store, err)
	}
	return NewJWTTokens(sec["kid"], sec["private-key"])
}

// key picks the verification key by the token's kid, so keys can rotate.
func (t *JWTTokens) key(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	key, ok := t.public[kid]
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return key, nil
}

// Issue signs an access token for c.
func (t *JWTTokens) Issue(c app.Claims) (string, error) {
	now := t.now()
	claims := accesstoken.JWTClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: c.UserID, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		SessionID: c.SessionID, Roles: c.Roles, Region: c.Region,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.private)
}

// Parse verifies an access token (accesstoken.Verify: EdDSA only, a known kid, our issuer and
// audience, an expiry in the future).
func (t *JWTTokens) Parse(token string) (app.Claims, error) {
	c, err := accesstoken.Verify(token, t.public, t.now)
	if err != nil {
		return app.Claims{}, err
	}
	return app.Claims{UserID: c.UserID, SessionID: c.SessionID, Roles: c.Roles, Region: c.Region, ExpiresAt: c.ExpiresAt}, nil
}

// PublicKeys are the verification keys by kid, for GetTokenKeys.
func (t *JWTTokens) PublicKeys() map[string]ed25519.PublicKey { return maps.Clone(t.public) }

type actionClaims struct {
	jwt.RegisteredClaims
	Email   string `json:"email"`
	Purpose string `json:"purpose"`
}

// IssueAction signs a token that authorises one action (verify_email) for userID and email.
func (t *JWTTokens) IssueAction(purpose, userID, email string, ttl time.Duration) (string, error) {
	now := t.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, actionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: userID, Audience: jwt.ClaimStrings{ActionAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
		Email: email, Purpose: purpose,
	})
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.private)
}

// ParseAction verifies an action token for purpose and returns its user and email.
func (t *JWTTokens) ParseAction(purpose, token string) (string, string, error) {
	var claims actionClaims
	_, err := jwt.ParseWithClaims(token, &claims, t.key, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(Issuer), jwt.WithAudience(ActionAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil {
		return "", "", err
	}
	if claims.Purpose != purpose || claims.Subject == "" {
		return "", "", errors.New("token is for another action")
	}
	return claims.Subject, claims.Email, nil
}
