package herald_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/internal/heraldtest"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

// shared is the heraldd most tests use; tests that restart a server start
// their own.
var shared *heraldtest.Server

func TestMain(m *testing.M) {
	srv, err := heraldtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = srv
	code := m.Run()
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to srv with token (none when empty) over plaintext.
func dial(t *testing.T, srv *heraldtest.Server, token string, opts ...herald.Option) *herald.Client {
	t.Helper()
	all := []herald.Option{herald.WithInsecure()}
	if token != "" {
		all = append(all, herald.WithToken(token))
	}
	c, err := herald.Dial(context.Background(), srv.Addr, append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func admin(t *testing.T) *herald.Client { return dial(t, shared, shared.AdminToken) }

// callCounter counts the attempts of each method (interceptors given with
// WithDialOptions run once per attempt).
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) option() herald.Option {
	return herald.WithDialOptions(grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			c.mu.Lock()
			if c.calls == nil {
				c.calls = map[string]int{}
			}
			c.calls[method]++
			c.mu.Unlock()
			return invoker(ctx, method, req, reply, cc, opts...)
		}))
}

func (c *callCounter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a webhook endpoint that verifies what it gets with the
// receiver helper.
type receiver struct {
	*httptest.Server
	events   chan *webhooks.Event
	rejected atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{events: make(chan *webhooks.Event, 100)}
	v := &webhooks.Verifier{Secrets: []string{testSecret}}
	verified := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.events <- webhooks.EventFromContext(req.Context())
	}))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		verified.ServeHTTP(rec, req)
		if rec.code >= 300 {
			r.rejected.Add(1)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

func (r *receiver) next(t *testing.T) *webhooks.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("no webhook received within 30 s (%d rejected)", r.rejected.Load())
		return nil
	}
}

// policyFor returns a policy of project sending eventTypes to url, signed
// with testSecret.
func policyFor(project int64, name, url string, format heraldv1.PayloadFormat, eventTypes ...string) *heraldv1.Policy {
	if len(eventTypes) == 0 {
		eventTypes = []string{"PUSH_ARTIFACT"}
	}
	return &heraldv1.Policy{
		ProjectId:  project,
		Name:       name,
		EventTypes: eventTypes,
		Targets: []*heraldv1.Target{{
			Type:          heraldv1.TargetType_TARGET_TYPE_HTTP,
			Address:       url,
			PayloadFormat: format,
			SigningSecret: testSecret,
		}},
	}
}

// pushEvent is a valid PUSH_ARTIFACT event of project.
func pushEvent(project int64, tag string) *heraldv1.Event {
	return &heraldv1.Event{
		EventType: "PUSH_ARTIFACT",
		ProjectId: project,
		Operator:  "go-sdk-test",
		Repository: &heraldv1.Repository{
			Namespace: "library",
			Name:      "busybox",
			RepoType:  "public",
		},
		Resources: []*heraldv1.Resource{{
			Digest: "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c",
			Tag:    tag,
		}},
	}
}

// refusingTarget is a webhook address where nothing listens: deliveries to
// it fail at once (connection refused) without leaving the machine.
const refusingTarget = "http://127.0.0.1:1/hook"
