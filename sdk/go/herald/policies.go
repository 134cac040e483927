package herald

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// CreatePolicy creates a policy and returns it with its id. Set
// req.RequestId (NewRequestID) to make the call safe to retry: it is then
// retried on UNAVAILABLE, and a repeat within 24 hours returns the policy
// created first.
//
// Errors: INVALID_ARGUMENT with a FieldViolation per invalid field,
// ALREADY_EXISTS (name taken in the project), PERMISSION_DENIED,
// UNAUTHENTICATED, UNAVAILABLE.
func (c *Client) CreatePolicy(ctx context.Context, req *heraldv1.CreatePolicyRequest) (*heraldv1.Policy, error) {
	resp, err := c.policies.CreatePolicy(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetPolicy(), nil
}

// GetPolicy returns one policy. Secrets are never returned: targets report
// HasAuthHeader and HasSigningSecret instead.
func (c *Client) GetPolicy(ctx context.Context, id int64) (*heraldv1.Policy, error) {
	resp, err := c.policies.GetPolicy(ctx, &heraldv1.GetPolicyRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.GetPolicy(), nil
}

// ListPolicies iterates over the policies matching req (nil: every policy
// the caller may read), newest first, fetching pages as needed:
//
//	for p, err := range client.ListPolicies(ctx, &heraldv1.ListPoliciesRequest{ProjectId: proto.Int64(1)}) {
//		if err != nil { return err }
//		fmt.Println(p.GetName())
//	}
//
// req.PageSize is the size of each page (0: 100); req.PageToken, when set,
// is where to start. req is not modified.
func (c *Client) ListPolicies(ctx context.Context, req *heraldv1.ListPoliciesRequest) iter.Seq2[*heraldv1.Policy, error] {
	base := cloneOrNew(req)
	if base.PageSize == 0 {
		base.PageSize = defaultPageSize
	}
	return pages(ctx, base.PageToken, func(ctx context.Context, token string) ([]*heraldv1.Policy, string, error) {
		r := proto.Clone(base).(*heraldv1.ListPoliciesRequest)
		r.PageToken = token
		resp, err := c.policies.ListPolicies(ctx, r)
		return resp.GetPolicies(), resp.GetNextPageToken(), err
	})
}

// UpdatePolicy changes the fields of policy (identified by policy.Id) named
// by paths, e.g. "enabled" or "targets"; "*" replaces every updatable field.
// Without paths, every field set in policy is replaced. It returns the
// updated policy.
//
// Secrets: a target sent back with AuthHeader or SigningSecret empty and its
// Has* flag true keeps the stored value.
func (c *Client) UpdatePolicy(ctx context.Context, policy *heraldv1.Policy, paths ...string) (*heraldv1.Policy, error) {
	req := &heraldv1.UpdatePolicyRequest{Policy: policy}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	resp, err := c.policies.UpdatePolicy(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetPolicy(), nil
}

// DeletePolicy deletes a policy with its executions, tasks and logs;
// deliveries not yet made are never sent. It is not retried (a repeat would
// answer NOT_FOUND).
func (c *Client) DeletePolicy(ctx context.Context, id int64) error {
	_, err := c.policies.DeletePolicy(ctx, &heraldv1.DeletePolicyRequest{Id: id})
	return err
}

// ListEventTypes returns the supported event types (with their CloudEvents
// types), target types and the payload formats of each target type.
func (c *Client) ListEventTypes(ctx context.Context) (*heraldv1.ListEventTypesResponse, error) {
	return c.policies.ListEventTypes(ctx, &heraldv1.ListEventTypesRequest{})
}

// cloneOrNew returns a copy of m, or a new zero message when m is nil.
func cloneOrNew[M interface {
	proto.Message
	*T
}, T any](m M) M {
	if m == nil {
		return M(new(T))
	}
	return proto.Clone(m).(M)
}
