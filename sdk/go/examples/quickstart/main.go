// Command quickstart tours herald's Go SDK against a running heraldd: it
// connects, starts a small webhook receiver, creates a policy that sends
// PUSH_ARTIFACT events to it, watches the deliveries, publishes an event,
// and verifies the signed webhook it receives.
//
//	HERALD_ADDRESS=127.0.0.1:7070 HERALD_TOKEN=$(cat var/admin.token) go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

func main() {
	addr := os.Getenv("HERALD_ADDRESS")
	if addr == "" {
		addr = "127.0.0.1:7070"
	}
	if err := run(context.Background(), addr, os.Getenv("HERALD_TOKEN"), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, token string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	// 1. Connect (plaintext: a local heraldd without TLS).
	client, err := herald.Dial(ctx, addr, herald.WithInsecure(), herald.WithToken(token))
	if err != nil {
		return err
	}
	defer client.Close()
	info, err := client.GetServerInfo(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", addr, err)
	}
	fmt.Fprintf(out, "connected to heraldd %s as %s\n", info.GetVersion(), info.GetCaller().GetName())

	// 2. A webhook endpoint: the middleware verifies the Standard Webhooks
	// signature with our secret (401 otherwise), then parses the body.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	received := make(chan *webhooks.Event, 1)
	verifier := &webhooks.Verifier{Secrets: []string{secret}}
	endpoint := verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case received <- webhooks.EventFromContext(r.Context()):
		default: // a redelivery; already seen
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, endpoint)
	defer ln.Close()

	// 3. A policy: PUSH_ARTIFACT events of project 1 go to the endpoint as
	// signed CloudEvents. The request id makes the create safe to retry.
	policy, err := client.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		RequestId: herald.NewRequestID(),
		Policy: &heraldv1.Policy{
			ProjectId:  1,
			Name:       fmt.Sprintf("quickstart-%d", time.Now().UnixNano()),
			EventTypes: []string{"PUSH_ARTIFACT"},
			Targets: []*heraldv1.Target{{
				Type:          heraldv1.TargetType_TARGET_TYPE_HTTP,
				Address:       "http://" + ln.Addr().String() + "/webhook",
				PayloadFormat: heraldv1.PayloadFormat_PAYLOAD_FORMAT_CLOUDEVENTS,
				SigningSecret: secret,
			}},
		},
	})
	if err != nil {
		return err
	}
	defer client.DeletePolicy(context.WithoutCancel(ctx), policy.GetId())
	fmt.Fprintf(out, "created policy %d %q\n", policy.GetId(), policy.GetName())

	// 4. Watch the policy's deliveries. The watch reconnects and resumes
	// by itself if heraldd restarts.
	delivered := make(chan struct{})
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for u, err := range client.WatchTasks(watchCtx, &heraldv1.WatchTasksRequest{
			PolicyId: policy.GetId(),
			Start:    heraldv1.WatchStart_WATCH_START_SNAPSHOT,
		}) {
			if err != nil {
				if watchCtx.Err() == nil { // e.g. UNIMPLEMENTED from an older heraldd
					fmt.Fprintln(out, "watch stopped:", err)
				}
				return
			}
			fmt.Fprintf(out, "watch: task %d is %s\n", u.GetTask().GetId(), u.GetTask().GetStatus())
			if u.GetTask().GetStatus() == heraldv1.TaskStatus_TASK_STATUS_SUCCESS {
				close(delivered)
				return
			}
		}
	}()

	// 5. Publish an event, as a registry would on a push.
	ack, err := client.PublishEvent(ctx, &heraldv1.PublishEventRequest{
		RequestId: herald.NewRequestID(),
		Event: &heraldv1.Event{
			EventType:  "PUSH_ARTIFACT",
			ProjectId:  1,
			Operator:   "quickstart",
			Repository: &heraldv1.Repository{Namespace: "library", Name: "busybox"},
			Resources: []*heraldv1.Resource{{
				Digest: "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c",
				Tag:    "1.36",
			}},
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "published event %d (deliveries created: %d)\n", ack.GetEventId(), ack.GetDeliveriesCreated())

	// 6. The endpoint got it, and its signature verified.
	select {
	case ev := <-received:
		fmt.Fprintf(out, "received a verified %s webhook (%s): %s:%s pushed by %s\n", ev.Type, ev.Format,
			ev.Data.Repository.RepoFullName, ev.Data.Resources[0].Tag, ev.Operator)
	case <-ctx.Done():
		return fmt.Errorf("no webhook received: %w", ctx.Err())
	}

	// 7. The watch reports the delivery a success (or, if the watch started
	// too late to see it, the execution record does).
	select {
	case <-delivered:
	case <-time.After(5 * time.Second):
		for exec, err := range client.ListExecutions(ctx, &heraldv1.ListExecutionsRequest{PolicyId: policy.GetId()}) {
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "execution %d is %s\n", exec.GetId(), exec.GetStatus())
		}
	}
	fmt.Fprintln(out, "done")
	return nil
}
