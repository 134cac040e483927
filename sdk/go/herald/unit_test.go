package herald

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

func TestFromStatusDetails(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "invalid policy.name: required").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_FIELD", Domain: ErrorDomain, Metadata: map[string]string{"k": "v"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "policy.name", Description: "required"},
			{Field: "policy.targets", Description: "one to ten"},
		}},
		// A detail this client has no special handling for.
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := FromStatus(st)
	if e.Code != codes.InvalidArgument || e.Reason != ReasonInvalidField || e.Domain != ErrorDomain || e.Metadata["k"] != "v" {
		t.Fatalf("decoded: %+v", e)
	}
	if len(e.FieldViolations) != 2 || e.FieldViolations[1].Field != "policy.targets" {
		t.Fatalf("violations: %+v", e.FieldViolations)
	}
	if d, ok := e.FieldViolation("policy.name"); !ok || d != "required" {
		t.Fatalf("FieldViolation: %q %v", d, ok)
	}
	if len(e.Details) != 3 {
		t.Fatalf("details: %v", e.Details)
	}
	if _, ok := e.Details[2].(*errdetails.RetryInfo); !ok {
		t.Fatalf("unknown detail not kept: %T", e.Details[2])
	}
	if got := e.Error(); got != "herald: InvalidArgument (INVALID_FIELD): invalid policy.name: required" {
		t.Fatalf("Error() = %q", got)
	}
	// Wrapped errors still unwrap to *Error, and status.FromError works.
	wrapped := fmt.Errorf("creating: %w", e)
	var herr *Error
	if !errors.As(wrapped, &herr) || !IsInvalidArgument(wrapped) || !errors.Is(wrapped, ErrInvalidArgument) || ReasonOf(wrapped) != ReasonInvalidField {
		t.Fatalf("wrapped: %v", wrapped)
	}
	if s, ok := status.FromError(e); !ok || s.Code() != codes.InvalidArgument || len(s.Details()) != 3 {
		t.Fatalf("status.FromError: %v %v", s, ok)
	}
	if FromStatus(status.New(codes.OK, "")) != nil || FromProto(nil) != nil {
		t.Fatal("OK is not an error")
	}
}

func TestConvertError(t *testing.T) {
	if convertError(nil) != nil {
		t.Fatal("nil")
	}
	plain := convertError(errors.New("boom"))
	if CodeOf(plain) != codes.Unknown {
		t.Fatalf("plain: %v", plain)
	}
	dl := convertError(context.DeadlineExceeded)
	if CodeOf(dl) != codes.DeadlineExceeded || !errors.Is(dl, context.DeadlineExceeded) || errors.Is(dl, context.Canceled) {
		t.Fatalf("deadline: %v", dl)
	}
	if c := convertError(status.Error(codes.Canceled, "x")); !errors.Is(c, context.Canceled) {
		t.Fatalf("canceled: %v", c)
	}
	if CodeOf(nil) != codes.OK || CodeOf(context.Canceled) != codes.Canceled || ReasonOf(errors.New("x")) != "" {
		t.Fatal("CodeOf/ReasonOf")
	}
	e := convertError(status.Error(codes.NotFound, "gone"))
	if again := convertError(e); again != e {
		t.Fatal("converting twice must return the same error")
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w*time.Millisecond && !(w == 1000 && got == time.Second) {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (RetryPolicy{InitialBackoff: time.Second, Multiplier: 0.5}).backoff(3); got != time.Second {
		t.Errorf("multiplier below 1: %v", got)
	}
	for range 100 {
		if j := jitter(time.Second); j < 0 || j > time.Second {
			t.Fatalf("jitter out of range: %v", j)
		}
	}
}

func TestIdempotent(t *testing.T) {
	cases := []struct {
		method string
		req    any
		want   bool
	}{
		{heraldv1.PolicyService_GetPolicy_FullMethodName, &heraldv1.GetPolicyRequest{}, true},
		{heraldv1.DeliveryService_ListExecutions_FullMethodName, &heraldv1.ListExecutionsRequest{}, true},
		{heraldv1.AdminService_RevokeToken_FullMethodName, &heraldv1.RevokeTokenRequest{}, true},
		{heraldv1.PolicyService_CreatePolicy_FullMethodName, &heraldv1.CreatePolicyRequest{}, false},
		{heraldv1.PolicyService_CreatePolicy_FullMethodName, &heraldv1.CreatePolicyRequest{RequestId: "k"}, true},
		{heraldv1.EventService_PublishEvent_FullMethodName, &heraldv1.PublishEventRequest{}, false},
		{heraldv1.EventService_PublishEvent_FullMethodName, &heraldv1.PublishEventRequest{RequestId: "k"}, true},
		{heraldv1.PolicyService_DeletePolicy_FullMethodName, &heraldv1.DeletePolicyRequest{}, false},
		{heraldv1.PolicyService_UpdatePolicy_FullMethodName, &heraldv1.UpdatePolicyRequest{}, false},
		{heraldv1.DeliveryService_RedeliverTask_FullMethodName, &heraldv1.RedeliverTaskRequest{}, false},
		{heraldv1.AdminService_CreateToken_FullMethodName, &heraldv1.CreateTokenRequest{}, false},
	}
	for _, c := range cases {
		if got := idempotent(c.method, c.req); got != c.want {
			t.Errorf("idempotent(%s, %v) = %v", c.method, c.req, got)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	a, b := NewRequestID(), NewRequestID()
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Fatalf("request ids %q %q", a, b)
	}
}
