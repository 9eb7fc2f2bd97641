// Package devsecrets writes the development secrets file the local secret store component reads:
// an Ed25519 JWT signing key and a self-signed TLS certificate for the gateway's local HTTPS port,
// all made on this machine. Nothing in it is a real secret, and nothing of it is committed.
package devsecrets

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Secret names, as the apps ask for them.
const (
	SigningKey = "jwt-signing-key"
	GatewayTLS = "gateway-tls"
	// BillingDatabase holds url: billing's own PostgreSQL role, password and database.
	BillingDatabase = "billing-database"
	// Stripe holds api-key (a test-mode key; stripe-mock takes any) and webhook-secret (what Stripe's
	// webhook signatures are made with).
	Stripe = "stripe"
	// FilesS3 holds access-key-id and secret-access-key of the files bucket.
	FilesS3 = "files-s3"
)

// BillingDatabaseName is billing's database, and its role's name.
const BillingDatabaseName = "acme_billing"

// Write makes sure the file at path holds every development secret: it creates what is missing and
// keeps what exists, so sessions signed earlier stay valid. It reports whether it changed the file.
func Write(path string) (changed bool, err error) {
	secrets := map[string]map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &secrets); err != nil {
			return false, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if _, ok := secrets[SigningKey]; !ok {
		if secrets[SigningKey], err = signingKey(); err != nil {
			return false, err
		}
		changed = true
	}
	if _, ok := secrets[GatewayTLS]; !ok {
		if secrets[GatewayTLS], err = selfSigned(); err != nil {
			return false, err
		}
		changed = true
	}
	if _, ok := secrets[BillingDatabase]; !ok {
		secrets[BillingDatabase] = map[string]string{"url": "postgres://" + BillingDatabaseName + ":" + randomText(24) +
			"@127.0.0.1:5432/" + BillingDatabaseName + "?sslmode=disable"}
		changed = true
	}
	if _, ok := secrets[FilesS3]; !ok {
		// The local S3 server's (versitygw) root credentials, as make infra starts it.
		secrets[FilesS3] = map[string]string{"access-key-id": "acme-local-dev", "secret-access-key": "acme-local-dev-secret"}
		changed = true
	}
	if _, ok := secrets[Stripe]; !ok {
		secrets[Stripe] = map[string]string{"api-key": "sk_test_" + randomText(24), "webhook-secret": "whsec_" + randomText(32)}
		changed = true
	}
	if !changed {
		return false, nil
	}
	b, err := json.MarshalIndent(secrets, "", "  ")
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return false, err
	}
	return true, os.Rename(path+".tmp", path)
}

func signingKey() (map[string]string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"kid":         "dev-" + time.Now().UTC().Format("20060102T150405"),
		"private-key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}, nil
}

// selfSigned makes a one-year ECDSA certificate for localhost and 127.0.0.1.
func selfSigned() (map[string]string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "acme-platform local gateway"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"cert": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}, nil
}

func read(path string) (map[string]map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var secrets map[string]map[string]string
	return secrets, json.Unmarshal(b, &secrets)
}

// ReadSigningKey reads the JWT signing key back: its kid and private key. Tests sign tokens of their
// own (expired ones, say) with it.
func ReadSigningKey(path string) (string, ed25519.PrivateKey, error) {
	secrets, err := read(path)
	if err != nil {
		return "", nil, err
	}
	block, _ := pem.Decode([]byte(secrets[SigningKey]["private-key"]))
	if block == nil {
		return "", nil, errors.New("no signing key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return "", nil, errors.New("signing key is not Ed25519")
	}
	return secrets[SigningKey]["kid"], priv, nil
}

// TLSCertificate returns the gateway's certificate in PEM, for clients that must trust it.
func TLSCertificate(path string) ([]byte, error) {
	secrets, err := read(path)
	if err != nil {
		return nil, err
	}
	return []byte(secrets[GatewayTLS]["cert"]), nil
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// Get reads one key of one secret.
func Get(path, name, key string) (string, error) {
	secrets, err := read(path)
	if err != nil {
		return "", err
	}
	v, ok := secrets[name][key]
	if !ok {
		return "", errors.New(path + ": no " + name + "/" + key)
	}
	return v, nil
}

// Set writes one key of one secret (the e2e suite points billing at a database of its own).
func Set(path, name, key, value string) error {
	secrets, err := read(path)
	if err != nil {
		return err
	}
	if secrets[name] == nil {
		secrets[name] = map[string]string{}
	}
	secrets[name][key] = value
	b, err := json.MarshalIndent(secrets, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
