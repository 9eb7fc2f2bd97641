package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/errs"
)

func encodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(token string) (*Cursor, error) {
	if token == "" {
		return nil, nil
	}
	bad := errs.Invalid("files.page_token_invalid", "page_token", "page_token is not one this service issued")
	if len(token) > 256 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, bad
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.CreatedAt.IsZero() || c.CreatedAt.After(time.Now().Add(time.Hour)) {
		return nil, bad
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return nil, bad
	}
	return &c, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
