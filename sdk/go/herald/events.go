package herald

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// PublishEvent publishes one event and returns its acknowledgement: once it
// returns, the event and the deliveries it created are durable. Set
// req.RequestId (NewRequestID) to make the call safe to retry: it is then
// retried on UNAVAILABLE, and a repeat within 24 hours is answered with the
// original acknowledgement (Duplicate true) and creates nothing.
//
// Errors: INVALID_ARGUMENT (FieldViolations such as
// "event.resources[0].digest"), PERMISSION_DENIED (not a publisher of the
// project), RESOURCE_EXHAUSTED (rate limit), UNAUTHENTICATED, UNAVAILABLE.
func (c *Client) PublishEvent(ctx context.Context, req *heraldv1.PublishEventRequest) (*heraldv1.EventAck, error) {
	resp, err := c.events.PublishEvent(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetAck(), nil
}

// PublishResult is the answer to one event of PublishEvents.
type PublishResult struct {
	// Sequence is the position of the event in the stream, from 1.
	Sequence int64
	// RequestID echoes the event's request_id.
	RequestID string
	// Ack is the acknowledgement; nil when Err is set.
	Ack *heraldv1.EventAck
	// Err is why this event was refused (an *Error, e.g. INVALID_ARGUMENT
	// with field violations); the stream goes on with the next event.
	Err error
}

// PublishEvents publishes the events of reqs over one stream and yields one
// result per event, in order. Events are sent from another goroutine while
// results are read, so reqs may be long or endless; the server slows the
// sender down when too many events wait for their acknowledgement.
//
// A refused event is reported in PublishResult.Err and the stream goes on.
// An error yielded with a nil result ends the stream (UNAUTHENTICATED,
// PERMISSION_DENIED, UNAVAILABLE on shutdown...): events without a result by
// then may be published again, with the same request_id to avoid
// duplicates. Stopping the loop early cancels the stream.
//
//	for res, err := range client.PublishEvents(ctx, slices.Values(reqs)) {
//		if err != nil { return err }          // the stream failed
//		if res.Err != nil { log.Print(res.Err) } // this event was refused
//	}
func (c *Client) PublishEvents(ctx context.Context, reqs iter.Seq[*heraldv1.PublishEventsRequest]) iter.Seq2[*PublishResult, error] {
	return func(yield func(*PublishResult, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait() // after cancel (deferred below runs first)
		defer cancel()
		stream, err := c.events.PublishEvents(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range reqs {
				if ctx.Err() != nil {
					return
				}
				if err := stream.Send(req); err != nil {
					// The stream is broken; Recv reports why.
					return
				}
			}
			_ = stream.CloseSend()
		}()
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			res := &PublishResult{
				Sequence:  resp.GetSequence(),
				RequestID: resp.GetRequestId(),
				Ack:       resp.GetAck(),
			}
			if e := FromProto(resp.GetError()); e != nil {
				res.Err = e
				res.Ack = nil
			}
			if !yield(res, nil) {
				return
			}
		}
	}
}
