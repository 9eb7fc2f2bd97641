package httpapi

import (
	"errors"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/platform/services/platform/errs"
)

// A domain error crosses gRPC (as users sends it) and comes out as the right HTTP status and code.
func TestBackendErrors_MapOnceToHTTP(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{errs.Conflict("user.email_taken", "taken"), http.StatusConflict, "user.email_taken"},
		{errs.Invalid("user.password_weak", "password", "weak"), http.StatusBadRequest, "user.password_weak"},
		{errs.Unauthenticated("auth.invalid_token", "bad"), http.StatusUnauthorized, "auth.invalid_token"},
		{errs.NotFound("user.not_found", "none"), http.StatusNotFound, "user.not_found"},
		{errs.PermissionDenied("project.forbidden", "no"), http.StatusForbidden, "project.forbidden"},
		{errs.Internal(errors.New("db exploded")), http.StatusInternalServerError, "internal"},
		// Statuses that did not come from our services: the sidecar or the network.
		{status.Error(codes.Unavailable, "connection refused"), http.StatusServiceUnavailable, "service.unavailable"},
		{status.Error(codes.DeadlineExceeded, "timeout"), http.StatusServiceUnavailable, "service.unavailable"},
		{status.Error(codes.Unknown, "boom"), http.StatusInternalServerError, "internal"},
	}
	for _, tc := range cases {
		wire := tc.err
		if _, isStatus := status.FromError(tc.err); !isStatus {
			wire = errs.ToStatus(tc.err).Err()
		}
		e := backendErr(wire).(*errs.Error)
		if got := kindToHTTP[e.Kind]; got != tc.status || e.Code != tc.code {
			t.Errorf("%v: got %d %s, want %d %s", tc.err, got, e.Code, tc.status, tc.code)
		}
		if e.Code == "internal" && e.Message != "internal error" {
			t.Errorf("%v: internal detail leaked: %q", tc.err, e.Message)
		}
	}
	if f := errs.FromStatus(errs.ToStatus(errs.Invalid("c", "email", "m")).Err()).Field; f != "email" {
		t.Errorf("field lost: %q", f)
	}
}
