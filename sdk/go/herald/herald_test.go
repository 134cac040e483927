package herald_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

func TestServerInfo(t *testing.T) {
	ctx := testContext(t)
	info, err := admin(t).GetServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetVersion() == "" || info.GetStoreKind() != "sqlite" {
		t.Errorf("server info: %v", info)
	}
	if info.GetCaller().GetRole() != heraldv1.Role_ROLE_SYSTEM_ADMIN {
		t.Errorf("caller: %v", info.GetCaller())
	}
}

func TestPolicyLifecycle(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)

	types, err := c.ListEventTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, et := range types.GetEventTypes() {
		names = append(names, et.GetEventType())
		if webhooks.CloudEventType(et.GetEventType()) != et.GetCloudeventsType() {
			t.Errorf("%s: CloudEvents type %q, receiver helper says %q", et.GetEventType(), et.GetCloudeventsType(), webhooks.CloudEventType(et.GetEventType()))
		}
	}
	if len(names) != 10 || !slices.Contains(names, "PUSH_ARTIFACT") {
		t.Errorf("event types: %v", names)
	}

	reqID := herald.NewRequestID()
	req := &heraldv1.CreatePolicyRequest{
		RequestId: reqID,
		Policy:    policyFor(101, "lifecycle", "https://ci.example.com/hooks", heraldv1.PayloadFormat_PAYLOAD_FORMAT_CLOUDEVENTS),
	}
	p, err := c.CreatePolicy(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetId() == 0 || p.GetName() != "lifecycle" || !p.GetEnabled() || p.GetCreator() != "bootstrap-admin" {
		t.Fatalf("created: %v", p)
	}
	if tg := p.GetTargets()[0]; !tg.GetHasSigningSecret() || tg.GetSigningSecret() != "" {
		t.Errorf("secret must be write-only: %v", tg)
	}
	// Same request_id: the same policy, nothing new.
	again, err := c.CreatePolicy(ctx, req)
	if err != nil || again.GetId() != p.GetId() {
		t.Fatalf("repeat with the same request_id: %v, %v", again, err)
	}

	got, err := c.GetPolicy(ctx, p.GetId())
	if err != nil || !proto.Equal(got, p) {
		t.Fatalf("GetPolicy: %v, %v", got, err)
	}

	upd, err := c.UpdatePolicy(ctx, &heraldv1.Policy{Id: p.GetId(), Enabled: proto.Bool(false), Description: "off"}, "enabled", "description")
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetEnabled() || upd.GetDescription() != "off" || upd.GetName() != "lifecycle" {
		t.Fatalf("updated: %v", upd)
	}

	if err := c.DeletePolicy(ctx, p.GetId()); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPolicy(ctx, p.GetId())
	var herr *herald.Error
	if !errors.As(err, &herr) {
		t.Fatalf("GetPolicy after delete: %T %v", err, err)
	}
	if herr.Code != codes.NotFound || herr.Reason != herald.ReasonNotFound || herr.Domain != herald.ErrorDomain ||
		herr.Metadata["resource"] != "policy" || herr.Metadata["id"] != fmt.Sprint(p.GetId()) {
		t.Fatalf("not found error: %+v", herr)
	}
	if !herald.IsNotFound(err) || !errors.Is(err, herald.ErrNotFound) || errors.Is(err, herald.ErrInvalidArgument) {
		t.Fatalf("sentinels: %v", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code: %v", status.Code(err))
	}
	if err := c.DeletePolicy(ctx, p.GetId()); !herald.IsNotFound(err) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestInvalidArgument(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	bad := policyFor(102, "bad", "ftp://nowhere", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT, "PUSH_ARTIFACT", "NO_SUCH_EVENT")
	_, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{Policy: bad})
	var herr *herald.Error
	if !errors.As(err, &herr) || !herald.IsInvalidArgument(err) || herr.Reason != herald.ReasonInvalidField {
		t.Fatalf("want INVALID_ARGUMENT/INVALID_FIELD, got %v", err)
	}
	if _, ok := herr.FieldViolation("policy.targets[0].address"); !ok {
		t.Errorf("no violation for the address: %+v", herr.FieldViolations)
	}
	if len(herr.FieldViolations) < 2 {
		t.Errorf("want a violation per invalid field: %+v", herr.FieldViolations)
	}
	for _, v := range herr.FieldViolations {
		if v.Field == "" || v.Description == "" {
			t.Errorf("empty violation: %+v", v)
		}
	}
	// Invalid events too.
	ev := pushEvent(102, "v1")
	ev.Resources[0].Digest = ""
	_, err = c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: ev})
	if !errors.As(err, &herr) || !herald.IsInvalidArgument(err) {
		t.Fatalf("publish: %v", err)
	}
	if _, ok := herr.FieldViolation("event.resources[0].digest"); !ok {
		t.Errorf("publish violations: %+v", herr.FieldViolations)
	}
	// A bad page token.
	_, err = herald.Collect(c.ListPolicies(ctx, &heraldv1.ListPoliciesRequest{PageToken: "garbage"}))
	// The contract names INVALID_PAGE_TOKEN; today's heraldd says INVALID_FIELD.
	if r := herald.ReasonOf(err); !herald.IsInvalidArgument(err) || (r != herald.ReasonInvalidPageToken && r != herald.ReasonInvalidField) {
		t.Fatalf("bad page token: %v", err)
	}
}

func TestAlreadyExists(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	p := policyFor(103, "twice", "https://ci.example.com/a", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)
	if _, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{Policy: p}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{Policy: p})
	if !herald.IsAlreadyExists(err) || herald.ReasonOf(err) != herald.ReasonNameTaken {
		t.Fatalf("want ALREADY_EXISTS/NAME_TAKEN, got %v", err)
	}
}

func TestAuthErrors(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)

	// No token, and an unknown one.
	_, err := dial(t, shared, "").GetServerInfo(ctx)
	if !herald.IsUnauthenticated(err) || herald.ReasonOf(err) != herald.ReasonTokenMissing || !errors.Is(err, herald.ErrUnauthenticated) {
		t.Fatalf("no token: %v", err)
	}
	_, err = dial(t, shared, "hld_not-a-token").GetServerInfo(ctx)
	if !herald.IsUnauthenticated(err) || herald.ReasonOf(err) != herald.ReasonTokenInvalid {
		t.Fatalf("bad token: %v", err)
	}

	// A maintainer of project 104 may read it but not write, nor read 105.
	owned, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(104, "maintained", "https://ci.example.com/m", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(105, "elsewhere", "https://ci.example.com/e", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)})
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := c.CreateToken(ctx, &heraldv1.Token{
		Name: "go-maintainer", Role: heraldv1.Role_ROLE_MAINTAINER, ProjectIds: []int64{104}})
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || tok.GetId() == 0 {
		t.Fatalf("token: %v %q", tok, secret)
	}
	m := dial(t, shared, secret)
	if _, err := m.GetPolicy(ctx, owned.GetId()); err != nil {
		t.Fatalf("maintainer reads its project: %v", err)
	}
	_, err = m.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(104, "nope", "https://ci.example.com/n", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)})
	var herr *herald.Error
	if !errors.As(err, &herr) || herr.Code != codes.PermissionDenied || herr.Reason != herald.ReasonRoleNotAllowed {
		t.Fatalf("maintainer creating: %v", err)
	}
	if !herald.IsPermissionDenied(err) || !errors.Is(err, herald.ErrPermissionDenied) {
		t.Fatalf("sentinels: %v", err)
	}
	_, err = m.GetPolicy(ctx, other.GetId())
	if !herald.IsPermissionDenied(err) || herald.ReasonOf(err) != herald.ReasonProjectNotAllowed {
		t.Fatalf("maintainer reading another project: %v", err)
	}
	if _, err := m.UpdateSettings(ctx, &heraldv1.Settings{WebhookJobMaxRetry: 4}); !herald.IsPermissionDenied(err) {
		t.Fatalf("maintainer updating settings: %v", err)
	}

	// Revoked: UNAUTHENTICATED from then on.
	if err := c.RevokeToken(ctx, tok.GetId()); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeToken(ctx, tok.GetId()); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := m.GetServerInfo(ctx); !herald.IsUnauthenticated(err) || herald.ReasonOf(err) != herald.ReasonTokenInvalid {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestPagination(t *testing.T) {
	ctx := testContext(t)
	var counter callCounter
	c := dial(t, shared, shared.AdminToken, counter.option())
	const project, n = 106, 25
	for i := range n {
		if _, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
			Policy: policyFor(project, fmt.Sprintf("page-%02d", i), "https://ci.example.com/p", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
		}); err != nil {
			t.Fatal(err)
		}
	}
	req := &heraldv1.ListPoliciesRequest{ProjectId: proto.Int64(project), PageSize: 10}
	list := heraldv1.PolicyService_ListPolicies_FullMethodName
	var got []string
	for p, err := range c.ListPolicies(ctx, req) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.GetName())
	}
	if len(got) != n {
		t.Fatalf("listed %d policies, want %d: %v", len(got), n, got)
	}
	if calls := counter.count(list); calls != 3 {
		t.Errorf("%d ListPolicies calls for 25 policies by 10, want 3", calls)
	}
	// Newest first, no duplicates.
	for i, name := range got {
		if want := fmt.Sprintf("page-%02d", n-1-i); name != want {
			t.Fatalf("policy %d is %s, want %s", i, name, want)
		}
	}
	if req.GetPageToken() != "" {
		t.Errorf("the request was modified")
	}
	// Stopping early fetches no more pages.
	before := counter.count(list)
	for range c.ListPolicies(ctx, req) {
		break
	}
	if calls := counter.count(list) - before; calls != 1 {
		t.Errorf("breaking after the first item made %d calls", calls)
	}
	// Filters apply to every page; the default page size takes all at once.
	before = counter.count(list)
	some, err := herald.Collect(c.ListPolicies(ctx, &heraldv1.ListPoliciesRequest{ProjectId: proto.Int64(project), NameContains: "page-1"}))
	if err != nil || len(some) != 10 || counter.count(list)-before != 1 {
		t.Fatalf("filtered: %d policies, %v", len(some), err)
	}
}

func TestTokensAndSettings(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	var ids []int64
	for i := range 12 {
		tok, _, err := c.CreateToken(ctx, &heraldv1.Token{Name: fmt.Sprintf("go-publisher-%d", i), Role: heraldv1.Role_ROLE_PUBLISHER})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.GetId())
	}
	if err := c.RevokeToken(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	live, err := herald.Collect(c.ListTokens(ctx, &heraldv1.ListTokensRequest{PageSize: 5}))
	if err != nil {
		t.Fatal(err)
	}
	all, err := herald.Collect(c.ListTokens(ctx, &heraldv1.ListTokensRequest{PageSize: 5, ShowRevoked: true}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(live)+countRevoked(all) || countRevoked(all) < 1 || len(live) < 12 {
		t.Fatalf("tokens: %d live, %d in all", len(live), len(all))
	}
	for _, tok := range live {
		if tok.GetId() == ids[0] || tok.GetRevoked() {
			t.Fatalf("revoked token listed: %v", tok)
		}
	}
	if err := c.RevokeToken(ctx, 1<<40); !herald.IsNotFound(err) {
		t.Fatalf("revoking an unknown token: %v", err)
	}

	s, err := c.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.GetWebhookJobMaxRetry() != 3 || !s.GetNotificationEnable() {
		t.Fatalf("default settings: %v", s)
	}
	upd, err := c.UpdateSettings(ctx, &heraldv1.Settings{WebhookJobMaxRetry: 5, WebhookJobHttpClientTimeout: durationpb.New(7 * time.Second)},
		"webhook_job_max_retry", "webhook_job_http_client_timeout")
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetWebhookJobMaxRetry() != 5 || upd.GetWebhookJobHttpClientTimeout().AsDuration() != 7*time.Second || !upd.GetNotificationEnable() {
		t.Fatalf("updated settings: %v", upd)
	}
	_, err = c.UpdateSettings(ctx, &heraldv1.Settings{WebhookJobMaxRetry: 1000}, "webhook_job_max_retry")
	var herr *herald.Error
	if !errors.As(err, &herr) || herr.Code != codes.InvalidArgument || len(herr.FieldViolations) == 0 ||
		!strings.Contains(herr.FieldViolations[0].Field, "webhook_job_max_retry") {
		t.Fatalf("invalid settings: %v", err)
	}
	if _, err := c.UpdateSettings(ctx, s, "webhook_job_max_retry", "webhook_job_http_client_timeout"); err != nil {
		t.Fatal(err)
	}
}

func countRevoked(tokens []*heraldv1.Token) int {
	n := 0
	for _, t := range tokens {
		if t.GetRevoked() {
			n++
		}
	}
	return n
}

func TestPublish(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	const project = 107
	if _, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(project, "publish", refusingTarget, heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
	}); err != nil {
		t.Fatal(err)
	}
	req := &heraldv1.PublishEventRequest{RequestId: herald.NewRequestID(), Event: pushEvent(project, "v1")}
	ack, err := c.PublishEvent(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ack.GetEventId() == 0 || ack.GetDeliveriesCreated() != 1 || ack.GetDuplicate() {
		t.Fatalf("ack: %v", ack)
	}
	dup, err := c.PublishEvent(ctx, req)
	if err != nil || !dup.GetDuplicate() || dup.GetEventId() != ack.GetEventId() {
		t.Fatalf("republish with the same request_id: %v, %v", dup, err)
	}

	// The stream: one result per event, in order; a refused event does not
	// end it.
	var reqs []*heraldv1.PublishEventsRequest
	for i := range 6 {
		ev := pushEvent(project, fmt.Sprintf("s%d", i))
		if i == 3 {
			ev.Repository = nil
		}
		reqs = append(reqs, &heraldv1.PublishEventsRequest{RequestId: fmt.Sprintf("stream-%s-%d", req.GetRequestId(), i), Event: ev})
	}
	var results []*herald.PublishResult
	for res, err := range c.PublishEvents(ctx, slices.Values(reqs)) {
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if len(results) != len(reqs) {
		t.Fatalf("%d results for %d events", len(results), len(reqs))
	}
	var last int64
	for i, res := range results {
		if res.Sequence != int64(i+1) || res.RequestID != reqs[i].GetRequestId() {
			t.Errorf("result %d: sequence %d, request id %q", i, res.Sequence, res.RequestID)
		}
		if i == 3 {
			var herr *herald.Error
			if res.Ack != nil || !errors.As(res.Err, &herr) || herr.Code != codes.InvalidArgument || len(herr.FieldViolations) == 0 {
				t.Errorf("refused event: %+v", res)
			}
			continue
		}
		if res.Err != nil || res.Ack.GetEventId() <= last || res.Ack.GetDeliveriesCreated() != 1 {
			t.Errorf("event %d: %+v", i, res)
		}
		last = res.Ack.GetEventId()
	}
	// Stopping early ends the stream without error or hang.
	n := 0
	for _, err := range c.PublishEvents(ctx, slices.Values(reqs)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatal("early stop")
	}
	// A publisher of another project is refused per event... and a token
	// without the publisher role ends the stream.
	_, secret, err := c.CreateToken(ctx, &heraldv1.Token{Name: "go-maint-108", Role: heraldv1.Role_ROLE_MAINTAINER, ProjectIds: []int64{108}})
	if err != nil {
		t.Fatal(err)
	}
	m := dial(t, shared, secret)
	if _, err := m.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(108, "x")}); !herald.IsPermissionDenied(err) {
		t.Fatalf("maintainer publishing: %v", err)
	}
	var streamErr error
	for res, err := range m.PublishEvents(ctx, slices.Values(reqs[:1])) {
		if err != nil {
			streamErr = err
			break
		}
		if res.Err != nil {
			streamErr = res.Err
		}
	}
	if !herald.IsPermissionDenied(streamErr) {
		t.Fatalf("maintainer publishing a stream: %v", streamErr)
	}
}

func TestDefaultDeadline(t *testing.T) {
	c := dial(t, shared, shared.AdminToken, herald.WithTimeout(time.Nanosecond))
	_, err := c.GetServerInfo(context.Background())
	if herald.CodeOf(err) != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DEADLINE_EXCEEDED, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = admin(t).GetServerInfo(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want CANCELLED, got %v", err)
	}
	// A context deadline of its own wins over the default.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.GetServerInfo(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDialBlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := herald.Dial(ctx, shared.Addr, herald.WithInsecure(), herald.WithBlock(), herald.WithToken(shared.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Nothing listens on a fresh port: WithBlock reports it.
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := herald.Dial(ctx, "127.0.0.1:1", herald.WithInsecure(), herald.WithBlock()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial with nothing listening: %v", err)
	}
}
