package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/acme/platform/services/platform/errs"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// decodeJSON reads exactly one JSON object into dst: the content type must be JSON, unknown fields,
// wrong types, trailing data and oversized bodies are refused with a precise error.
func decodeJSON(c *gin.Context, dst any) error {
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	if err := decodeBytes(body, dst); err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return errs.Invalid("request.malformed_json", "", "the request body is not valid JSON")
	}
	return contractRules.checkBody(c, obj)
}

// readJSON reads the body of a JSON request as it came: the content type must be JSON, and the body
// one JSON object within the size limit.
func readJSON(c *gin.Context) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		return nil, &errs.Error{Kind: errs.KindUnsupportedMedia, Code: "request.unsupported_media_type", Message: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(c.Request.Body)
	if isTooLarge(err) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, errs.Invalid("request.unreadable", "", "the request body could not be read")
	}
	var obj map[string]any
	if err := decodeBytes(body, &obj); err != nil {
		return nil, err
	}
	return body, nil
}

func isTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

var errTooLarge = &errs.Error{Kind: errs.KindTooLarge, Code: "request.too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)}

func decodeBytes(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return errs.Invalid("request.malformed_json", "", "the request body is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errs.Invalid("request.malformed_json", "", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var synErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			return errs.Invalid("request.invalid_type", typeErr.Field, fmt.Sprintf("field %q must be a %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errs.Invalid("request.unknown_field", field, fmt.Sprintf("field %q is not accepted here", field))
		case errors.As(err, &synErr), errors.Is(err, io.ErrUnexpectedEOF):
			return errs.Invalid("request.malformed_json", "", "the request body is not valid JSON")
		default:
			return errs.Invalid("request.malformed_json", "", "the request body is not valid JSON")
		}
	}
	if dec.More() {
		return errs.Invalid("request.malformed_json", "", "the request body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.Invalid("request.malformed_json", "", "the request body holds more than one JSON value")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "number"
}

func firstErr(es ...error) error {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}
