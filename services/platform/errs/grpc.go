package errs

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Domain is the google.rpc.ErrorInfo domain of every Acme error.
const Domain = "acme.platform"

var kindToCode = map[Kind]codes.Code{
	KindInternal:         codes.Internal,
	KindInvalid:          codes.InvalidArgument,
	KindNotFound:         codes.NotFound,
	KindConflict:         codes.AlreadyExists,
	KindUnauthenticated:  codes.Unauthenticated,
	KindPermissionDenied: codes.PermissionDenied,
	KindPrecondition:     codes.FailedPrecondition,
	KindTooMany:          codes.ResourceExhausted,
	KindUnavailable:      codes.Unavailable,
}

// namedKinds cross a service boundary by name: gRPC has no code that says them.
var namedKinds = map[Kind]string{KindPaymentRequired: "payment_required", KindUnprocessable: "unprocessable",
	KindTooLarge: "too_large"}

// Edge kinds travel as InvalidArgument should they ever cross a service boundary.
func grpcCode(k Kind) codes.Code {
	if c, ok := kindToCode[k]; ok {
		return c
	}
	return codes.InvalidArgument
}

// ToStatus turns an error into a gRPC status carrying the machine code as ErrorInfo.Reason and the
// offending field, if any, in its metadata. Internal causes stay out of the status.
func ToStatus(err error) *status.Status {
	if s, ok := status.FromError(err); ok && !isDomain(err) {
		return s
	}
	e := As(err)
	st := status.New(grpcCode(e.Kind), e.Message)
	info := &errdetails.ErrorInfo{Reason: e.Code, Domain: Domain, Metadata: map[string]string{}}
	if e.Field != "" {
		info.Metadata["field"] = e.Field
	}
	if name, ok := namedKinds[e.Kind]; ok { // no gRPC code of their own: named in the metadata
		st = status.New(codes.FailedPrecondition, e.Message)
		info.Metadata["kind"] = name
	}
	details := []protoadapt.MessageV1{info}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	if withInfo, derr := st.WithDetails(details...); derr == nil {
		return withInfo
	}
	return st
}

func isDomain(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// FromStatus reads an error back from a gRPC status: the ErrorInfo reason becomes the code. A status
// without one (from Dapr or the transport) gets a code derived from its gRPC code.
func FromStatus(err error) *Error {
	st, ok := status.FromError(err)
	if !ok {
		return Internal(err)
	}
	kind := KindInternal
	for k, c := range kindToCode {
		if c == st.Code() {
			kind = k
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded, codes.Canceled:
		kind = KindUnavailable
	case codes.Unimplemented:
		kind = KindNotFound
	}
	out := &Error{Kind: kind, Message: st.Message(), cause: err}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == Domain {
				out.Code = d.GetReason()
				out.Field = d.GetMetadata()["field"]
				for k, name := range namedKinds {
					if d.GetMetadata()["kind"] == name {
						out.Kind = k
					}
				}
			}
		case *errdetails.RetryInfo:
			out.RetryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	if out.Code == "" {
		// Not one of ours: the sidecar or the network answered. Say so without echoing internals.
		switch kind {
		case KindUnavailable:
			out.Code, out.Message = "service.unavailable", "a backend service is unavailable, try again"
		case KindNotFound:
			out.Code, out.Message = "service.not_found", "the backend does not serve this call"
		default:
			out.Kind, out.Code, out.Message = KindInternal, "internal", "internal error"
		}
	}
	return out
}

// UnaryServerInterceptor maps domain errors to statuses, logs internal ones with their cause, and turns
// a panic in a handler into an Internal status instead of a dead process.
func UnaryServerInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r)
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		resp, err = handler(ctx, req)
		if err == nil {
			return resp, nil
		}
		if e := As(err); e.Kind == KindInternal || e.Kind == KindUnavailable {
			log.ErrorContext(ctx, "call failed", "method", info.FullMethod, "code", e.Code, "error", err)
		}
		return nil, ToStatus(err).Err()
	}
}
