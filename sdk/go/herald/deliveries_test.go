package herald_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

// waitExecution waits until the policy has an execution in a final state
// and returns it (with its payload).
func waitExecution(t *testing.T, ctx context.Context, c *herald.Client, policyID int64) *heraldv1.Execution {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		execs, err := herald.Collect(c.ListExecutions(ctx, &heraldv1.ListExecutionsRequest{PolicyId: policyID}))
		if err != nil {
			t.Fatal(err)
		}
		if len(execs) > 0 {
			// (Today's heraldd sends an empty end_time while running, so
			// the task's final flag is what tells.)
			tasks, err := c.ListTasks(ctx, execs[0].GetId())
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) == 1 && tasks[0].GetFinal() {
				e, err := c.GetExecution(ctx, execs[0].GetId())
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no finished execution within 30 s")
	return nil
}

// TestDeliveries publishes to a policy whose target is a local receiver
// that verifies signatures with the webhooks package, then reads the
// delivery back through DeliveryService.
func TestDeliveries(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	const project = 110
	for _, format := range []heraldv1.PayloadFormat{heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT, heraldv1.PayloadFormat_PAYLOAD_FORMAT_CLOUDEVENTS} {
		t.Run(format.String(), func(t *testing.T) {
			recv := newReceiver(t)
			p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
				Policy: policyFor(project, "deliver-"+format.String(), recv.URL+"/hook", format),
			})
			if err != nil {
				t.Fatal(err)
			}
			ack, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(project, "v2")})
			if err != nil {
				t.Fatal(err)
			}
			if ack.GetDeliveriesCreated() < 1 {
				t.Fatalf("ack: %v", ack)
			}
			ev := recv.next(t)
			wantFormat := webhooks.FormatDefault
			if format == heraldv1.PayloadFormat_PAYLOAD_FORMAT_CLOUDEVENTS {
				wantFormat = webhooks.FormatCloudEvents
			}
			if ev.Format != wantFormat || ev.Type != "PUSH_ARTIFACT" || ev.Operator != "go-sdk-test" ||
				ev.Data.Repository.RepoFullName != "library/busybox" || ev.Data.Resources[0].Tag != "v2" || ev.WebhookID == "" {
				t.Fatalf("received: %+v", ev)
			}
			if wantFormat == webhooks.FormatCloudEvents {
				if proj, pol, ok := ev.CloudEvent.ProjectAndPolicy(); !ok || proj != project || pol != p.GetId() {
					t.Errorf("source %q", ev.CloudEvent.Source)
				}
			}

			exec := waitExecution(t, ctx, c, p.GetId())
			if exec.GetStatus() != heraldv1.TaskStatus_TASK_STATUS_SUCCESS || exec.GetWebhookId() != ev.WebhookID ||
				exec.GetEventId() != ack.GetEventId() || exec.GetPayload() == "" {
				t.Fatalf("execution: %v", exec)
			}
			parsed, err := webhooks.Parse([]byte(exec.GetPayload()), exec.GetContentType())
			if err != nil || parsed.Format != wantFormat {
				t.Fatalf("stored payload: %v %v", parsed, err)
			}
			tasks, err := c.ListTasks(ctx, exec.GetId())
			if err != nil || len(tasks) != 1 || tasks[0].GetExecutionId() != exec.GetId() || tasks[0].GetLastResponseCode() != 200 {
				t.Fatalf("tasks: %v %v", tasks, err)
			}
			task := tasks[0]

			log, err := c.GetTaskLog(ctx, task.GetId())
			switch {
			case herald.IsUnimplemented(err):
				t.Log("GetTaskLog: not implemented by this heraldd")
			case err != nil:
				t.Fatal(err)
			case !strings.Contains(log, "200"):
				t.Errorf("task log: %q", log)
			}

			re, err := c.RedeliverTask(ctx, task.GetId())
			switch {
			case herald.IsUnimplemented(err):
				t.Log("RedeliverTask: not implemented by this heraldd")
			case err != nil:
				t.Fatal(err)
			default:
				if re.GetId() != task.GetId() {
					t.Errorf("redelivered: %v", re)
				}
				again := recv.next(t)
				if again.WebhookID != ev.WebhookID {
					t.Errorf("redelivery has webhook-id %q, want %q", again.WebhookID, ev.WebhookID)
				}
				waitFinal(t, ctx, c, exec.GetId())
				reExec, err := c.RedeliverExecution(ctx, exec.GetId())
				if err != nil {
					t.Fatal(err)
				}
				if reExec.GetId() != exec.GetId() {
					t.Errorf("redelivered execution: %v", reExec)
				}
				if again := recv.next(t); again.WebhookID != ev.WebhookID {
					t.Errorf("redelivery has webhook-id %q", again.WebhookID)
				}
			}
		})
	}

	// Errors of the delivery reads.
	if _, err := c.GetExecution(ctx, 1<<40); !herald.IsNotFound(err) {
		t.Errorf("unknown execution: %v", err)
	}
	if _, err := c.ListTasks(ctx, 1<<40); !herald.IsNotFound(err) {
		t.Errorf("tasks of an unknown execution: %v", err)
	}
	if _, err := herald.Collect(c.ListExecutions(ctx, &heraldv1.ListExecutionsRequest{PolicyId: 1 << 40})); !herald.IsNotFound(err) {
		t.Errorf("executions of an unknown policy: %v", err)
	}
}

// waitFinal waits until the execution's task is final again.
func waitFinal(t *testing.T, ctx context.Context, c *herald.Client, executionID int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		tasks, err := c.ListTasks(ctx, executionID)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) == 1 && tasks[0].GetFinal() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("task not final within 30 s")
}

func TestDeliveryPagination(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	const project = 111
	// A target that never answers 2xx quickly is not needed: executions are
	// created at publish time whatever their outcome.
	p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(project, "many", refusingTarget, heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if _, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(project, "t"+string(rune('a'+i)))}); err != nil {
			t.Fatal(err)
		}
	}
	execs, err := herald.Collect(c.ListExecutions(ctx, &heraldv1.ListExecutionsRequest{PolicyId: p.GetId(), PageSize: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 12 {
		t.Fatalf("%d executions, want 12", len(execs))
	}
	seen := map[int64]bool{}
	for _, e := range execs {
		if seen[e.GetId()] {
			t.Fatalf("execution %d listed twice", e.GetId())
		}
		seen[e.GetId()] = true
	}
}

func TestRecoverFailed(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	const project = 112
	var hits atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "not today", http.StatusInternalServerError)
	}))
	defer failing.Close()
	pol := policyFor(project, "recover", failing.URL+"/hook", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT)
	pol.RetryPolicy = &heraldv1.RetryPolicy{MaxAttempts: 1}
	p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Minute)
	if _, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(project, "fails")}); err != nil {
		t.Fatal(err)
	}
	exec := waitExecution(t, ctx, c, p.GetId())
	if exec.GetStatus() != heraldv1.TaskStatus_TASK_STATUS_ERROR || hits.Load() != 1 {
		t.Fatalf("failed execution: %v (%d hits)", exec, hits.Load())
	}

	recoverFailed := func(dryRun bool) *heraldv1.RecoverFailedResponse {
		t.Helper()
		var last *heraldv1.RecoverFailedResponse
		for progress, err := range c.RecoverFailed(ctx, &heraldv1.RecoverFailedRequest{
			Scope:     &heraldv1.RecoverFailedRequest_PolicyId{PolicyId: p.GetId()},
			StartTime: timestamppb.New(start),
			DryRun:    dryRun,
		}) {
			if herald.IsUnimplemented(err) {
				t.Skip("RecoverFailed: not implemented by this heraldd")
			}
			if err != nil {
				t.Fatal(err)
			}
			last = progress
		}
		if last == nil || !last.GetDone() {
			t.Fatalf("last progress: %v", last)
		}
		return last
	}
	if got := recoverFailed(true); got.GetMatched() != 1 || got.GetRedelivered() != 0 {
		t.Fatalf("dry run: %v", got)
	}
	if got := recoverFailed(false); got.GetMatched() != 1 || got.GetRedelivered() != 1 {
		t.Fatalf("recover: %v", got)
	}
	waitFinal(t, ctx, c, exec.GetId())
	if hits.Load() != 2 {
		t.Fatalf("%d attempts after the recovery, want 2", hits.Load())
	}

	// Invalid: no scope.
	var streamErr error
	for _, err := range c.RecoverFailed(ctx, &heraldv1.RecoverFailedRequest{StartTime: timestamppb.Now()}) {
		streamErr = err
	}
	var herr *herald.Error
	if !errors.As(streamErr, &herr) || !herald.IsInvalidArgument(streamErr) || len(herr.FieldViolations) == 0 {
		t.Fatalf("no scope: %v", streamErr)
	}
}

// TestRedeliverNotFinal: redelivering a task still in flight is
// FAILED_PRECONDITION with reason TASK_NOT_FINAL.
func TestRedeliverNotFinal(t *testing.T) {
	ctx := testContext(t)
	c := admin(t)
	const project = 113
	recv := newGatedReceiver(t)
	defer recv.release()
	p, err := c.CreatePolicy(ctx, &heraldv1.CreatePolicyRequest{
		Policy: policyFor(project, "held", recv.URL+"/hook", heraldv1.PayloadFormat_PAYLOAD_FORMAT_DEFAULT),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishEvent(ctx, &heraldv1.PublishEventRequest{Event: pushEvent(project, "held")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-recv.arrived: // the attempt is in flight and held
	case <-time.After(30 * time.Second):
		t.Fatal("not delivered")
	}
	execs, err := herald.Collect(c.ListExecutions(ctx, &heraldv1.ListExecutionsRequest{PolicyId: p.GetId()}))
	if err != nil || len(execs) != 1 {
		t.Fatalf("executions: %v %v", execs, err)
	}
	_, err = c.RedeliverExecution(ctx, execs[0].GetId())
	var herr *herald.Error
	if !errors.As(err, &herr) || herr.Code != codes.FailedPrecondition || herr.Reason != herald.ReasonTaskNotFinal ||
		!herald.IsFailedPrecondition(err) || !errors.Is(err, herald.ErrFailedPrecondition) {
		t.Fatalf("redeliver while running: %v", err)
	}
	if _, err := c.RedeliverTask(ctx, 1<<40); !herald.IsNotFound(err) {
		t.Fatalf("redeliver an unknown task: %v", err)
	}
}
