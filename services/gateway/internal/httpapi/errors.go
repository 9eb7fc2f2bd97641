package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/acme/platform/services/platform/errs"
)

// ErrorBody is the one error shape every route answers with.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong in a form a program can branch on.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Field     string `json:"field,omitempty"`
}

var kindToHTTP = map[errs.Kind]int{
	errs.KindInternal:             http.StatusInternalServerError,
	errs.KindInvalid:              http.StatusBadRequest,
	errs.KindNotFound:             http.StatusNotFound,
	errs.KindConflict:             http.StatusConflict,
	errs.KindUnauthenticated:      http.StatusUnauthorized,
	errs.KindPermissionDenied:     http.StatusForbidden,
	errs.KindPrecondition:         http.StatusPreconditionFailed,
	errs.KindTooMany:              http.StatusTooManyRequests,
	errs.KindUnavailable:          http.StatusServiceUnavailable,
	errs.KindTooLarge:             http.StatusRequestEntityTooLarge,
	errs.KindUnsupportedMedia:     http.StatusUnsupportedMediaType,
	errs.KindPreconditionRequired: http.StatusPreconditionRequired,
	errs.KindPaymentRequired:      http.StatusPaymentRequired,
	errs.KindUnprocessable:        http.StatusUnprocessableEntity,
}

// fail answers err with its status and the error body, and stops the chain. Errors from backends
// arrive as gRPC statuses; errs.FromStatus has already turned them into domain errors.
func fail(c *gin.Context, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		e = errs.FromStatus(err)
	}
	status := kindToHTTP[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		_ = c.Error(err) // the access log records the cause; the client sees none of it
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="acme"`)
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, RequestID: requestID(c), Field: e.Field}})
}

// backendErr turns an error from a gRPC call into a domain error.
func backendErr(err error) error { return errs.FromStatus(err) }
