package herald

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// ListExecutions iterates over the executions of req.PolicyId (required),
// newest first, without payloads (GetExecution has them). See ListPolicies
// for paging.
func (c *Client) ListExecutions(ctx context.Context, req *heraldv1.ListExecutionsRequest) iter.Seq2[*heraldv1.Execution, error] {
	base := cloneOrNew(req)
	if base.PageSize == 0 {
		base.PageSize = defaultPageSize
	}
	return pages(ctx, base.PageToken, func(ctx context.Context, token string) ([]*heraldv1.Execution, string, error) {
		r := proto.Clone(base).(*heraldv1.ListExecutionsRequest)
		r.PageToken = token
		resp, err := c.deliveries.ListExecutions(ctx, r)
		return resp.GetExecutions(), resp.GetNextPageToken(), err
	})
}

// GetExecution returns one execution with its rendered payload (byte for
// byte what every attempt sends), content type, webhook-id and task counts.
func (c *Client) GetExecution(ctx context.Context, id int64) (*heraldv1.Execution, error) {
	resp, err := c.deliveries.GetExecution(ctx, &heraldv1.GetExecutionRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.GetExecution(), nil
}

// ListTasks returns the tasks of an execution (always one).
func (c *Client) ListTasks(ctx context.Context, executionID int64) ([]*heraldv1.Task, error) {
	resp, err := c.deliveries.ListTasks(ctx, &heraldv1.ListTasksRequest{ExecutionId: executionID})
	if err != nil {
		return nil, err
	}
	return resp.GetTasks(), nil
}

// GetTaskLog returns a task's log: one line per attempt with its time,
// response status, latency and error.
func (c *Client) GetTaskLog(ctx context.Context, taskID int64) (string, error) {
	resp, err := c.deliveries.GetTaskLog(ctx, &heraldv1.GetTaskLogRequest{TaskId: taskID})
	if err != nil {
		return "", err
	}
	return resp.GetLog(), nil
}

// RedeliverTask starts a new attempt cycle for a final task (same payload,
// same webhook-id) and returns the task, pending again. A task that is not
// final gives FAILED_PRECONDITION (reason TASK_NOT_FINAL). Not retried.
func (c *Client) RedeliverTask(ctx context.Context, taskID int64) (*heraldv1.Task, error) {
	resp, err := c.deliveries.RedeliverTask(ctx, &heraldv1.RedeliverTaskRequest{TaskId: taskID})
	if err != nil {
		return nil, err
	}
	return resp.GetTask(), nil
}

// RedeliverExecution redelivers the task of an execution, as RedeliverTask,
// and returns the execution.
func (c *Client) RedeliverExecution(ctx context.Context, executionID int64) (*heraldv1.Execution, error) {
	resp, err := c.deliveries.RedeliverExecution(ctx, &heraldv1.RedeliverExecutionRequest{ExecutionId: executionID})
	if err != nil {
		return nil, err
	}
	return resp.GetExecution(), nil
}

// RecoverFailed redelivers every finally failed task of a policy or project
// in a time window (req.DryRun only counts them) and yields the progress
// messages; the last one has Done set. Not retried.
func (c *Client) RecoverFailed(ctx context.Context, req *heraldv1.RecoverFailedRequest) iter.Seq2[*heraldv1.RecoverFailedResponse, error] {
	return func(yield func(*heraldv1.RecoverFailedResponse, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.deliveries.RecoverFailed(ctx, req)
		if err != nil {
			yield(nil, err)
			return
		}
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(resp, nil) {
				return
			}
		}
	}
}
