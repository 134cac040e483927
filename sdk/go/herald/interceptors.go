package herald

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// safeMethods are the unary RPCs that may be repeated whatever the request:
// reads, and RevokeToken (revoking twice is not an error).
var safeMethods = map[string]bool{
	heraldv1.PolicyService_GetPolicy_FullMethodName:        true,
	heraldv1.PolicyService_ListPolicies_FullMethodName:     true,
	heraldv1.PolicyService_ListEventTypes_FullMethodName:   true,
	heraldv1.DeliveryService_ListExecutions_FullMethodName: true,
	heraldv1.DeliveryService_GetExecution_FullMethodName:   true,
	heraldv1.DeliveryService_ListTasks_FullMethodName:      true,
	heraldv1.DeliveryService_GetTaskLog_FullMethodName:     true,
	heraldv1.AdminService_GetSettings_FullMethodName:       true,
	heraldv1.AdminService_ListTokens_FullMethodName:        true,
	heraldv1.AdminService_GetServerInfo_FullMethodName:     true,
	heraldv1.AdminService_RevokeToken_FullMethodName:       true,
}

// idempotent reports whether a unary call may be sent again after an
// UNAVAILABLE error without risking a second effect.
func idempotent(method string, req any) bool {
	if safeMethods[method] {
		return true
	}
	// Creates and publishes are deduplicated by the server on request_id.
	switch r := req.(type) {
	case *heraldv1.CreatePolicyRequest:
		return r.GetRequestId() != ""
	case *heraldv1.PublishEventRequest:
		return r.GetRequestId() != ""
	}
	return false
}

// unaryInterceptor gives unary calls the default deadline, retries
// idempotent ones on UNAVAILABLE and converts errors into *Error.
func (c *Client) unaryInterceptor(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.opts.timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.opts.timeout)
			defer cancel()
		}
	}
	attempts := 1
	if idempotent(method, req) && c.opts.retry.MaxAttempts > 1 {
		attempts = c.opts.retry.MaxAttempts
	}
	var err error
	for n := 1; ; n++ {
		callOpts := opts
		if n > 1 {
			// A retry waits for the connection to come back (bounded by the
			// deadline) instead of failing fast while it reconnects.
			callOpts = append(slices.Clip(opts), grpc.WaitForReady(true))
		}
		err = invoker(ctx, method, req, reply, cc, callOpts...)
		if err == nil {
			return nil
		}
		if n >= attempts || status.Code(err) != codes.Unavailable {
			break
		}
		if !sleep(ctx, jitter(c.opts.retry.backoff(n))) {
			break
		}
	}
	return convertError(err)
}

// streamInterceptor converts the errors of streaming calls into *Error.
func (c *Client) streamInterceptor(ctx context.Context, desc *grpc.StreamDesc,
	cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, convertError(err)
	}
	return &errorStream{ClientStream: s}, nil
}

type errorStream struct{ grpc.ClientStream }

// SendMsg reports io.EOF when the server ended the stream (the status then
// comes from RecvMsg), and RecvMsg reports io.EOF at the normal end: both
// are passed on as they are.
func (s *errorStream) SendMsg(m any) error { return streamError(s.ClientStream.SendMsg(m)) }

func (s *errorStream) RecvMsg(m any) error { return streamError(s.ClientStream.RecvMsg(m)) }

func streamError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return convertError(err)
}

// jitter returns a random duration in [0, d] ("full jitter").
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
