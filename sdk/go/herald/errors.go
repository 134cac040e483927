package herald

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of herald's errors.
const ErrorDomain = "herald.dev"

// Reasons herald puts in google.rpc.ErrorInfo.reason (Error.Reason). They are
// the names of heraldv1.ErrorReason without the "ERROR_REASON_" prefix.
// Branch on these, never on the message.
const (
	ReasonTokenMissing      = "TOKEN_MISSING"       // UNAUTHENTICATED: no token sent
	ReasonTokenInvalid      = "TOKEN_INVALID"       // UNAUTHENTICATED: unknown, revoked or expired token
	ReasonRoleNotAllowed    = "ROLE_NOT_ALLOWED"    // PERMISSION_DENIED: the token's role may not do it
	ReasonProjectNotAllowed = "PROJECT_NOT_ALLOWED" // PERMISSION_DENIED: no role on the project
	ReasonInvalidField      = "INVALID_FIELD"       // INVALID_ARGUMENT: see Error.FieldViolations
	ReasonInvalidPageToken  = "INVALID_PAGE_TOKEN"  // INVALID_ARGUMENT
	ReasonNotFound          = "NOT_FOUND"           // NOT_FOUND: metadata "resource" and "id"
	ReasonNameTaken         = "NAME_TAKEN"          // ALREADY_EXISTS
	ReasonStoreUnavailable  = "STORE_UNAVAILABLE"   // UNAVAILABLE: retry
	ReasonShuttingDown      = "SHUTTING_DOWN"       // UNAVAILABLE: retry later or elsewhere
	ReasonNotImplemented    = "NOT_IMPLEMENTED"     // UNIMPLEMENTED
	ReasonTaskNotFinal      = "TASK_NOT_FINAL"      // FAILED_PRECONDITION
	ReasonCursorExpired     = "CURSOR_EXPIRED"      // OUT_OF_RANGE: restart the watch with a snapshot
	ReasonRateLimited       = "RATE_LIMITED"        // RESOURCE_EXHAUSTED
	ReasonInternal          = "INTERNAL"            // INTERNAL
	ReasonConsumerTooSlow   = "CONSUMER_TOO_SLOW"   // UNAVAILABLE: resume from the last cursor
	ReasonMalformedRequest  = "MALFORMED_REQUEST"   // INVALID_ARGUMENT: the request bytes did not parse
)

// FieldViolation names one invalid field of a request, from the
// google.rpc.BadRequest detail of an INVALID_ARGUMENT error.
type FieldViolation struct {
	// Field is the path of the field, e.g. "policy.targets[0].address".
	Field string
	// Description says what is wrong with it.
	Description string
}

// Error is the error every Client method returns for a failed call (and the
// error of calls made through the raw service clients of a Client). Get at it
// with errors.As:
//
//	var herr *herald.Error
//	if errors.As(err, &herr) && herr.Reason == herald.ReasonNameTaken { ... }
//
// Details herald does not know are kept in Details, so a newer server never
// breaks an older client.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the human-readable message. Do not parse it.
	Message string
	// Reason is the google.rpc.ErrorInfo reason, e.g. "NOT_FOUND" (one of
	// the Reason* constants); empty when the error carries no ErrorInfo
	// (for instance a connection failure produced by the client itself).
	Reason string
	// Domain is the ErrorInfo domain, ErrorDomain for herald's errors.
	Domain string
	// Metadata is the ErrorInfo metadata, e.g. {"resource": "policy", "id": "7"}.
	Metadata map[string]string
	// FieldViolations lists the invalid fields of an INVALID_ARGUMENT error.
	FieldViolations []FieldViolation
	// Details holds every status detail, decoded where the type is known
	// (errdetails.ErrorInfo, errdetails.BadRequest, ...).
	Details []any

	status *status.Status
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("herald: ")
	b.WriteString(e.Code.String())
	if e.Reason != "" {
		b.WriteString(" (")
		b.WriteString(e.Reason)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// GRPCStatus returns the underlying status, so status.FromError and
// status.Code keep working on herald errors.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Is makes errors.Is(err, herald.ErrNotFound) (and the other Err* values)
// true for an Error of that code, and errors.Is(err,
// context.DeadlineExceeded) / context.Canceled true for DEADLINE_EXCEEDED and
// CANCELLED errors.
func (e *Error) Is(target error) bool {
	switch target {
	case context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	case context.Canceled:
		return e.Code == codes.Canceled
	}
	if s, ok := target.(*sentinel); ok {
		return s.code == e.Code
	}
	return false
}

// sentinel is the type of the Err* values: one per status code.
type sentinel struct {
	code codes.Code
	text string
}

func (s *sentinel) Error() string { return s.text }

// Values to compare errors against with errors.Is, one per status code
// herald returns. errors.Is(err, herald.ErrNotFound) is the same test as
// herald.IsNotFound(err).
var (
	ErrInvalidArgument    error = &sentinel{codes.InvalidArgument, "herald: invalid argument"}
	ErrNotFound           error = &sentinel{codes.NotFound, "herald: not found"}
	ErrAlreadyExists      error = &sentinel{codes.AlreadyExists, "herald: already exists"}
	ErrPermissionDenied   error = &sentinel{codes.PermissionDenied, "herald: permission denied"}
	ErrUnauthenticated    error = &sentinel{codes.Unauthenticated, "herald: unauthenticated"}
	ErrFailedPrecondition error = &sentinel{codes.FailedPrecondition, "herald: failed precondition"}
	ErrOutOfRange         error = &sentinel{codes.OutOfRange, "herald: out of range"}
	ErrResourceExhausted  error = &sentinel{codes.ResourceExhausted, "herald: resource exhausted"}
	ErrUnavailable        error = &sentinel{codes.Unavailable, "herald: unavailable"}
	ErrUnimplemented      error = &sentinel{codes.Unimplemented, "herald: unimplemented"}
	ErrInternal           error = &sentinel{codes.Internal, "herald: internal error"}
)

// IsInvalidArgument reports whether err is an INVALID_ARGUMENT error; its
// FieldViolations name the fields.
func IsInvalidArgument(err error) bool { return CodeOf(err) == codes.InvalidArgument }

// IsNotFound reports whether err is a NOT_FOUND error.
func IsNotFound(err error) bool { return CodeOf(err) == codes.NotFound }

// IsAlreadyExists reports whether err is an ALREADY_EXISTS error (a policy
// name taken in the project).
func IsAlreadyExists(err error) bool { return CodeOf(err) == codes.AlreadyExists }

// IsPermissionDenied reports whether err is a PERMISSION_DENIED error: the
// token may not do this.
func IsPermissionDenied(err error) bool { return CodeOf(err) == codes.PermissionDenied }

// IsUnauthenticated reports whether err is an UNAUTHENTICATED error: no
// token, or an unknown, revoked or expired one.
func IsUnauthenticated(err error) bool { return CodeOf(err) == codes.Unauthenticated }

// IsFailedPrecondition reports whether err is a FAILED_PRECONDITION error
// (e.g. redelivering a task that is not final).
func IsFailedPrecondition(err error) bool { return CodeOf(err) == codes.FailedPrecondition }

// IsUnavailable reports whether err is an UNAVAILABLE error: the server
// could not be reached or is shutting down. Idempotent calls have been
// retried already when this is returned.
func IsUnavailable(err error) bool { return CodeOf(err) == codes.Unavailable }

// IsUnimplemented reports whether err is an UNIMPLEMENTED error: the server
// does not implement this RPC yet.
func IsUnimplemented(err error) bool { return CodeOf(err) == codes.Unimplemented }

// IsResourceExhausted reports whether err is a RESOURCE_EXHAUSTED error
// (rate limit, message too large).
func IsResourceExhausted(err error) bool { return CodeOf(err) == codes.ResourceExhausted }

// CodeOf returns the gRPC status code of err: codes.OK for nil,
// codes.Unknown for an error that carries no status. Context errors map to
// DeadlineExceeded and Canceled.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var herr *Error
	if errors.As(err, &herr) {
		return herr.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// ReasonOf returns the ErrorInfo reason of err ("" when it has none).
func ReasonOf(err error) string {
	var herr *Error
	if errors.As(err, &herr) {
		return herr.Reason
	}
	return ""
}

// FromStatus converts a gRPC status into an *Error, decoding the ErrorInfo
// and BadRequest details. It returns nil for an OK status.
func FromStatus(st *status.Status) *Error {
	if st == nil || st.Code() == codes.OK {
		return nil
	}
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, d := range st.Details() {
		e.Details = append(e.Details, d)
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if e.Reason == "" {
				e.Reason = d.GetReason()
				e.Domain = d.GetDomain()
				e.Metadata = d.GetMetadata()
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{
					Field:       v.GetField(),
					Description: v.GetDescription(),
				})
			}
		}
		// Unknown detail types (and details that failed to decode, which
		// Details() reports as error values) are kept as they are.
	}
	return e
}

// FromProto converts a google.rpc.Status message, such as the per-event
// error of a PublishEvents acknowledgement, into an *Error (nil when OK).
func FromProto(s *spb.Status) *Error {
	if s == nil {
		return nil
	}
	return FromStatus(status.FromProto(s))
}

// convertError turns an error of a gRPC call into an *Error. Context errors
// become DEADLINE_EXCEEDED / CANCELLED errors that still satisfy
// errors.Is(err, context.DeadlineExceeded). Already converted errors and nil
// pass through.
func convertError(err error) error {
	if err == nil {
		return nil
	}
	var herr *Error
	if errors.As(err, &herr) {
		return err
	}
	if st, ok := status.FromError(err); ok {
		return FromStatus(st)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return FromStatus(status.New(codes.DeadlineExceeded, err.Error()))
	case errors.Is(err, context.Canceled):
		return FromStatus(status.New(codes.Canceled, err.Error()))
	}
	return FromStatus(status.New(codes.Unknown, err.Error()))
}

// FieldViolation returns the description of the violation of field, and
// whether there is one.
func (e *Error) FieldViolation(field string) (string, bool) {
	for _, v := range e.FieldViolations {
		if v.Field == field {
			return v.Description, true
		}
	}
	return "", false
}
