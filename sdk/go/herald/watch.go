package herald

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// WatchTasks follows the changes of the tasks matching req (nil: every task
// the caller may read, from now on), yielding each update as it happens.
//
// When the stream breaks with UNAVAILABLE (heraldd restarting, a network
// failure, or the watcher falling too far behind), WatchTasks reconnects by
// itself with backoff and resumes after the cursor of the last update it
// yielded, so no update is missed or repeated. It keeps doing so until ctx is
// done. Any other error (OUT_OF_RANGE when the cursor is older than the
// retained history, PERMISSION_DENIED, UNIMPLEMENTED on a server without
// WatchTasks, CANCELLED when ctx is cancelled...) is yielded once and ends
// the iteration. Stopping the loop closes the stream.
//
// Each update's Cursor can be stored and passed later as req.Cursor to
// resume from there.
//
//	for u, err := range client.WatchTasks(ctx, &heraldv1.WatchTasksRequest{PolicyId: id}) {
//		if err != nil { return err }
//		fmt.Println(u.GetTask().GetId(), u.GetTask().GetStatus())
//	}
func (c *Client) WatchTasks(ctx context.Context, req *heraldv1.WatchTasksRequest) iter.Seq2[*heraldv1.TaskUpdate, error] {
	return func(yield func(*heraldv1.TaskUpdate, error) bool) {
		r := cloneOrNew(req)
		failures := 0
		for {
			err := c.watchOnce(ctx, r, failures > 0, func(u *heraldv1.TaskUpdate) bool {
				failures = 0
				if u.GetCursor() != "" {
					r.Cursor = u.GetCursor()
				}
				return yield(u, nil)
			})
			if err == nil { // the consumer stopped, or the server ended the stream
				return
			}
			if !IsUnavailable(err) || ctx.Err() != nil {
				yield(nil, err)
				return
			}
			failures++
			if !sleep(ctx, jitter(c.opts.retry.backoff(failures))) {
				yield(nil, convertError(ctx.Err()))
				return
			}
		}
	}
}

// watchOnce runs one WatchTasks stream, passing each update to deliver
// until it returns false. It returns nil when deliver stopped it or the
// server closed the stream normally, else the stream's error.
func (c *Client) watchOnce(ctx context.Context, req *heraldv1.WatchTasksRequest, reconnect bool,
	deliver func(*heraldv1.TaskUpdate) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var opts []grpc.CallOption
	if reconnect {
		// Wait for the connection to come back rather than failing fast.
		opts = append(opts, grpc.WaitForReady(true))
	}
	stream, err := c.deliveries.WatchTasks(ctx, req, opts...)
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// Updates come in batches, oldest first.
		for _, u := range resp.GetUpdates() {
			if !deliver(u) {
				return nil
			}
		}
	}
}
