// Package devsecrets writes the development secrets file the local secret store component reads: a
// fresh Ed25519 JWT signing key made on this machine. Nothing in it is a real secret, and nothing of
// it is committed.
package devsecrets

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"
)

// Write creates the file at path unless it exists, and reports whether it did. The signing key is
// returned either way, so tests can sign tokens of their own (expired ones, say) with it.
func Write(path string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return false, err
	}
	b, err := json.MarshalIndent(map[string]any{
		"jwt-signing-key": map[string]string{
			"kid":         "dev-" + time.Now().UTC().Format("20060102T150405"),
			"private-key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		},
	}, "", "  ")
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

// SigningKey reads the JWT signing key back: its kid and private key.
func SigningKey(path string) (string, ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var f struct {
		Key struct {
			Kid        string `json:"kid"`
			PrivateKey string `json:"private-key"`
		} `json:"jwt-signing-key"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", nil, err
	}
	block, _ := pem.Decode([]byte(f.Key.PrivateKey))
	if block == nil {
		return "", nil, os.ErrInvalid
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return "", nil, os.ErrInvalid
	}
	return f.Key.Kid, priv, nil
}
