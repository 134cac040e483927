package herald

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// GetSettings returns the server-wide delivery settings.
func (c *Client) GetSettings(ctx context.Context) (*heraldv1.Settings, error) {
	resp, err := c.admin.GetSettings(ctx, &heraldv1.GetSettingsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetSettings(), nil
}

// UpdateSettings changes the settings named by paths (e.g.
// "webhook_job_max_retry"); without paths, every field set in settings.
// It returns the settings after the change. System admins only.
func (c *Client) UpdateSettings(ctx context.Context, settings *heraldv1.Settings, paths ...string) (*heraldv1.Settings, error) {
	req := &heraldv1.UpdateSettingsRequest{Settings: settings}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	resp, err := c.admin.UpdateSettings(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetSettings(), nil
}

// CreateToken creates an access token (Name, Role, ProjectIds and
// optionally ExpireTime of token) and returns it with its secret, which is
// shown only here: pass it to WithToken. System admins only.
func (c *Client) CreateToken(ctx context.Context, token *heraldv1.Token) (*heraldv1.Token, string, error) {
	resp, err := c.admin.CreateToken(ctx, &heraldv1.CreateTokenRequest{Token: token})
	if err != nil {
		return nil, "", err
	}
	return resp.GetToken(), resp.GetSecret(), nil
}

// ListTokens iterates over the tokens (never their secrets), oldest first;
// req may be nil. See ListPolicies for paging.
func (c *Client) ListTokens(ctx context.Context, req *heraldv1.ListTokensRequest) iter.Seq2[*heraldv1.Token, error] {
	base := cloneOrNew(req)
	if base.PageSize == 0 {
		base.PageSize = defaultPageSize
	}
	return pages(ctx, base.PageToken, func(ctx context.Context, token string) ([]*heraldv1.Token, string, error) {
		r := proto.Clone(base).(*heraldv1.ListTokensRequest)
		r.PageToken = token
		resp, err := c.admin.ListTokens(ctx, r)
		return resp.GetTokens(), resp.GetNextPageToken(), err
	})
}

// RevokeToken revokes a token at once; revoking twice is not an error.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	_, err := c.admin.RevokeToken(ctx, &heraldv1.RevokeTokenRequest{Id: id})
	return err
}

// GetServerInfo returns the server version and store, and the calling
// token (Caller) with its role.
func (c *Client) GetServerInfo(ctx context.Context) (*heraldv1.GetServerInfoResponse, error) {
	return c.admin.GetServerInfo(ctx, &heraldv1.GetServerInfoRequest{})
}
