package herald_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/internal/heraldtest"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

// ownServer starts a heraldd for one test (tests that stop and restart it).
func ownServer(t *testing.T) *heraldtest.Server {
	t.Helper()
	srv, err := heraldtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// restartLater restarts srv (stopped) after d, in the background; wait
// for it with the returned function.
func restartLater(t *testing.T, srv *heraldtest.Server, d time.Duration) func() {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		time.Sleep(d)
		done <- srv.Restart()
	}()
	return func() {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryOnUnavailable(t *testing.T) {
	ctx := testContext(t)
	srv := ownServer(t)
	var counter callCounter
	c := dial(t, srv, srv.AdminToken, counter.option(), herald.WithRetry(herald.RetryPolicy{
		MaxAttempts: 20, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Multiplier: 2,
	}))
	p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(201, "retried", refusingTarget, heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
	})
	if err != nil {
		t.Fatal(err)
	}

	// A read while heraldd restarts on the same address: retried until it
	// is back.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	wait := restartLater(t, srv, 700*time.Millisecond)
	get := heraldv1.PolicyService_GetPolicy_FullMethodName
	got, err := c.GetPolicy(ctx, p.GetId())
	wait()
	if err != nil {
		t.Fatalf("GetPolicy across a restart: %v", err)
	}
	if got.GetId() != p.GetId() || counter.count(get) < 2 {
		t.Fatalf("GetPolicy: %v after %d attempts", got, counter.count(get))
	}

	// A publish with a request_id is retried too, and so is a create.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	wait = restartLater(t, srv, 500*time.Millisecond)
	ack, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{RequestId: herald.NewRequestID(), Event: pushEvent(201, "r")})
	wait()
	publish := heraldv1.EventService_PublishEvent_FullMethodName
	if err != nil || ack.GetDeliveriesCreated() != 1 || counter.count(publish) < 2 {
		t.Fatalf("PublishEvent across a restart: %v, %v, %d attempts", ack, err, counter.count(publish))
	}

	// Calls that are not safe to repeat are attempted once.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	del := heraldv1.PolicyService_DeletePolicy_FullMethodName
	if err := c.DeletePolicy(ctx, p.GetId()); !herald.IsUnavailable(err) || counter.count(del) != 1 {
		t.Fatalf("DeletePolicy while down: %v after %d attempts", err, counter.count(del))
	}
	before := counter.count(publish)
	if _, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(201, "once")}); !herald.IsUnavailable(err) || counter.count(publish)-before != 1 {
		t.Fatalf("PublishEvent without request_id while down: %v after %d attempts", err, counter.count(publish)-before)
	}
	// Retries give up at the deadline.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetPolicy(short, p.GetId())
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("GetPolicy while down: %v after %v", err, time.Since(start))
	}
	if !herald.IsUnavailable(err) && herald.CodeOf(err).String() != "DeadlineExceeded" {
		t.Fatalf("GetPolicy while down: %v", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPolicy(ctx, p.GetId()); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// gatedReceiver verifies webhooks and holds each answer until released.
type gatedReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	gate    chan struct{}
	arrived chan *webhooks.Event
}

func newGatedReceiver(t *testing.T) *gatedReceiver {
	g := &gatedReceiver{gate: make(chan struct{}), arrived: make(chan *webhooks.Event, 100)}
	v := &webhooks.Verifier{Secrets: []string{testSecret}}
	g.Server = httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- webhooks.EventFromContext(r.Context())
		g.mu.Lock()
		gate := g.gate
		g.mu.Unlock()
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	})))
	t.Cleanup(g.Close)
	return g
}

func (g *gatedReceiver) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

// watchRecorder records the request of every WatchTasks stream opened.
type watchRecorder struct {
	mu   sync.Mutex
	reqs []*heraldv1.WatchTasksRequest
}

func (w *watchRecorder) option() herald.Option {
	return herald.WithDialOptions(grpc.WithChainStreamInterceptor(
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil || method != heraldv1.DeliveryService_WatchTasks_FullMethodName {
				return s, err
			}
			return &recordingStream{ClientStream: s, w: w}, nil
		}))
}

func (w *watchRecorder) requests() []*heraldv1.WatchTasksRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reqs)
}

type recordingStream struct {
	grpc.ClientStream
	w *watchRecorder
}

func (s *recordingStream) SendMsg(m any) error {
	if r, ok := m.(*heraldv1.WatchTasksRequest); ok {
		s.w.mu.Lock()
		s.w.reqs = append(s.w.reqs, proto.Clone(r).(*heraldv1.WatchTasksRequest))
		s.w.mu.Unlock()
	}
	return s.ClientStream.SendMsg(m)
}

// TestWatchTasksResumes follows a policy's tasks across a heraldd restart:
// the watch reconnects by itself and resumes from its cursor, with no
// duplicate and no gap.
func TestWatchTasksResumes(t *testing.T) {
	ctx := testContext(t)
	srv := ownServer(t)
	var watches watchRecorder
	c := dial(t, srv, srv.AdminToken, watches.option())
	recv := newGatedReceiver(t)
	const project = 301
	p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(project, "watched", recv.URL+"/hook", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Event A's delivery is held by the receiver, so its task is RUNNING
	// and shows in the snapshot: that tells the watch is established.
	ackA, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(project, "a")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-recv.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("event A was not delivered")
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	type item struct {
		u   *heraldv1.TaskUpdate
		err error
	}
	items := make(chan item, 100)
	go func() {
		defer close(items)
		for u, err := range c.WatchTasks(watchCtx, &heraldv1.WatchTasksRequest{
			PolicyId: p.GetId(), Start: heraldv1.WatchStart_WATCH_START_SNAPSHOT,
		}) {
			items <- item{u, err}
		}
	}()
	cursors := map[string]bool{}
	next := func() *heraldv1.TaskUpdate {
		t.Helper()
		select {
		case it, ok := <-items:
			if !ok {
				t.Fatal("the watch ended")
			}
			if herald.IsUnimplemented(it.err) {
				recv.release()
				t.Skip("WatchTasks: not implemented by this heraldd yet (UNIMPLEMENTED)")
			}
			if it.err != nil {
				t.Fatalf("watch: %v", it.err)
			}
			if it.u.GetCursor() == "" || cursors[it.u.GetCursor()] {
				t.Fatalf("missing or repeated cursor: %v", it.u)
			}
			cursors[it.u.GetCursor()] = true
			return it.u
		case <-time.After(30 * time.Second):
			t.Fatal("no task update within 30 s")
			return nil
		}
	}
	// waitFor reads updates until one of the event's task reaches status.
	waitFor := func(eventID int64, status heraldv1.TaskStatus) {
		t.Helper()
		for {
			u := next()
			if u.GetExecution().GetPolicyId() != p.GetId() {
				t.Fatalf("update of another policy: %v", u)
			}
			if u.GetExecution().GetEventId() == eventID && u.GetTask().GetStatus() == status {
				return
			}
		}
	}

	first := next()
	if !first.GetSnapshot() || first.GetExecution().GetEventId() != ackA.GetEventId() {
		t.Fatalf("first update: %v", first)
	}
	recv.release()
	waitFor(ackA.GetEventId(), heraldv1.TaskStatus_TASK_STATUS_SUCCESS)

	// Restart heraldd; publish B as soon as it is back. The watch resumes
	// from A's last cursor and gets every update of B, once.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ackB, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{RequestId: herald.NewRequestID(), Event: pushEvent(project, "b")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		u := next()
		if u.GetExecution().GetEventId() == ackA.GetEventId() {
			t.Fatalf("update of A again after the resume: %v", u)
		}
		if u.GetSnapshot() {
			t.Fatalf("a resumed watch must not start with a snapshot: %v", u)
		}
		if u.GetExecution().GetEventId() == ackB.GetEventId() && u.GetTask().GetStatus() == heraldv1.TaskStatus_TASK_STATUS_SUCCESS {
			break
		}
	}

	// It took a second stream, resuming after the last cursor seen before.
	reqs := watches.requests()
	if len(reqs) < 2 || reqs[0].GetCursor() != "" || reqs[len(reqs)-1].GetCursor() == "" ||
		reqs[len(reqs)-1].GetStart() != heraldv1.WatchStart_WATCH_START_SNAPSHOT {
		t.Fatalf("WatchTasks requests: %v", reqs)
	}

	// Stopping the consumer ends the stream cleanly.
	stopWatch()
	for it := range items {
		if it.err != nil && !herald.IsUnavailable(it.err) && herald.CodeOf(it.err).String() != "Canceled" {
			t.Fatalf("after cancel: %v", it.err)
		}
	}
}

// TestWatchTasksErrors: errors other than UNAVAILABLE end the watch.
func TestWatchTasksErrors(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	n := 0
	var last error
	for u, err := range c.WatchTasks(ctx, &heraldv1.WatchTasksRequest{Cursor: "not-a-cursor"}) {
		n++
		if u != nil {
			t.Fatalf("update with a bad cursor: %v", u)
		}
		last = err
	}
	if herald.IsUnimplemented(last) {
		t.Skip("WatchTasks: not implemented by this heraldd yet (UNIMPLEMENTED)")
	}
	if n != 1 || !herald.IsInvalidArgument(last) {
		t.Fatalf("bad cursor: %d results, last %v", n, last)
	}
	_, secret, err := c.CreateToken(ctx, &heraldv1.Token{Name: "go-watch-maint", Role: heraldv1.Role_ROLE_MAINTAINER, ProjectIds: []int64{401}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(402, "not-yours", refusingTarget, heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)})
	if err != nil {
		t.Fatal(err)
	}
	last = nil
	for _, err := range dial(t, shared, secret).WatchTasks(ctx, &heraldv1.WatchTasksRequest{PolicyId: other.GetId()}) {
		last = err
	}
	if !herald.IsPermissionDenied(last) {
		t.Fatalf("watching another project's policy: %v", last)
	}
}
