// Package herald is the Go client of herald, a Harbor-compatible webhook
// notification service.
//
// Connect with Dial, then call the ctx-first methods of Client:
//
//	client, err := herald.Dial(ctx, "127.0.0.1:7070",
//		herald.WithInsecure(), herald.WithToken(token))
//	if err != nil { ... }
//	defer client.Close()
//	policy, err := client.GetPolicy(ctx, 7)
//
// Every method maps the gRPC status of a failed call into an *Error (use
// errors.As, or the Is* helpers such as IsNotFound), gives unary calls a
// default deadline (WithTimeout), and retries calls that are safe to repeat
// when the server is unavailable (WithRetry). List methods return Go 1.23
// iterators that fetch pages lazily; WatchTasks resumes from its last cursor
// by itself after a disconnect.
//
// The generated protobuf types and raw gRPC clients are in package
// github.com/heraldhq/herald/sdk/go/heraldv1. To verify and parse the
// webhooks herald delivers, see package github.com/heraldhq/herald/sdk/go/webhooks.
package herald

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/heraldhq/herald/sdk/go/heraldv1"
)

// Version is the version of this SDK, sent in the user agent.
const Version = "0.1.0"

// Client is a connection to one heraldd. It is safe for concurrent use;
// make one and share it. Close it when done.
type Client struct {
	opts       options
	conn       *grpc.ClientConn
	policies   heraldv1.PolicyServiceClient
	events     heraldv1.EventServiceClient
	deliveries heraldv1.DeliveryServiceClient
	admin      heraldv1.AdminServiceClient
}

// Dial makes a Client for the heraldd at addr ("host:port", or any gRPC
// target such as "dns:///herald.internal:7070").
//
// The connection is made in the background and re-made after failures;
// Dial itself only fails on invalid options, unless WithBlock is given, in
// which case it waits until the connection is ready or ctx is done.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{opts: o}

	var creds credentials.TransportCredentials
	if o.insecure {
		creds = insecure.NewCredentials()
	} else {
		cfg := o.tls
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(cfg)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("herald-go/" + Version),
		grpc.WithChainUnaryInterceptor(c.unaryInterceptor),
		grpc.WithChainStreamInterceptor(c.streamInterceptor),
		// Reconnect quickly after a restart; gRPC's default backoff grows to
		// two minutes, which is meant for large fleets.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  250 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   10 * time.Second,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
		// Detect dead connections under long watches (heraldd permits pings
		// every 10 s or more).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:    30 * time.Second,
			Timeout: 10 * time.Second,
		}),
	}
	if o.token != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearerToken(o.token)))
	}
	dialOpts = append(dialOpts, o.dialOptions...)
	conn, err := grpc.NewClient(addr, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("herald: dial %s: %w", addr, err)
	}
	c.conn = conn
	c.policies = heraldv1.NewPolicyServiceClient(conn)
	c.events = heraldv1.NewEventServiceClient(conn)
	c.deliveries = heraldv1.NewDeliveryServiceClient(conn)
	c.admin = heraldv1.NewAdminServiceClient(conn)

	conn.Connect()
	if o.block {
		for {
			s := conn.GetState()
			if s == connectivity.Ready {
				break
			}
			if !conn.WaitForStateChange(ctx, s) {
				conn.Close()
				return nil, fmt.Errorf("herald: dial %s: %w (last state %s)", addr, ctx.Err(), s)
			}
		}
	}
	return c, nil
}

// Close closes the connection. Calls in progress fail with CANCELLED.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the underlying connection, e.g. for a health client.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// PolicyService returns the raw generated client, with the Client's token,
// deadline, retries and error mapping. Use it for what the methods of Client
// do not cover.
func (c *Client) PolicyService() heraldv1.PolicyServiceClient { return c.policies }

// EventService returns the raw generated client (see PolicyService).
func (c *Client) EventService() heraldv1.EventServiceClient { return c.events }

// DeliveryService returns the raw generated client (see PolicyService).
func (c *Client) DeliveryService() heraldv1.DeliveryServiceClient { return c.deliveries }

// AdminService returns the raw generated client (see PolicyService).
func (c *Client) AdminService() heraldv1.AdminServiceClient { return c.admin }

// bearerToken sends "authorization: Bearer <token>" with every call.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false: heraldd serves plaintext unless it is
// given a certificate, and its tokens are meant to work there too.
func (t bearerToken) RequireTransportSecurity() bool { return false }

// NewRequestID returns a random idempotency key (a UUID v4 string) for
// CreatePolicyRequest.RequestId and PublishEventRequest.RequestId. A call
// carrying one is retried safely: the server answers a repeat within 24
// hours with the original result. Keep the same key when you retry a call
// yourself.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
