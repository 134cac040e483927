package herald

import (
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
)

// DefaultTimeout bounds each unary call, retries included, whose context has
// no deadline of its own. Streams (WatchTasks, PublishEvents, RecoverFailed)
// are not bounded by it.
const DefaultTimeout = 10 * time.Second

// DefaultRetry is the retry policy of a Client made without WithRetry.
var DefaultRetry = RetryPolicy{
	MaxAttempts:    5,
	InitialBackoff: 100 * time.Millisecond,
	MaxBackoff:     5 * time.Second,
	Multiplier:     2,
}

// RetryPolicy says how calls that are safe to repeat are retried when they
// fail with UNAVAILABLE. Safe calls are the reads (Get*, List*), RevokeToken,
// and CreatePolicy and PublishEvent when they carry a request_id (the server
// then answers a repeat with the original result). Every other call is
// attempted once. The wait before retry n is a random duration up to
// min(MaxBackoff, InitialBackoff*Multiplier^(n-1)) ("full jitter").
// Retries stop at the call's deadline.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, first one included; 1
	// (or less) disables retries.
	MaxAttempts int
	// InitialBackoff is the upper bound of the first wait.
	InitialBackoff time.Duration
	// MaxBackoff caps every wait.
	MaxBackoff time.Duration
	// Multiplier grows the bound after each attempt (values below 1 mean 1).
	Multiplier float64
}

// backoff returns the upper bound of the wait before retry n (n >= 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.InitialBackoff)
	m := p.Multiplier
	if m < 1 {
		m = 1
	}
	for i := 1; i < n; i++ {
		d *= m
		if p.MaxBackoff > 0 && d >= float64(p.MaxBackoff) {
			return p.MaxBackoff
		}
	}
	if p.MaxBackoff > 0 && d > float64(p.MaxBackoff) {
		return p.MaxBackoff
	}
	return time.Duration(d)
}

// Option configures a Client; pass them to Dial or NewClient.
type Option func(*options)

type options struct {
	token       string
	tls         *tls.Config
	insecure    bool
	timeout     time.Duration
	retry       RetryPolicy
	block       bool
	dialOptions []grpc.DialOption
}

func defaultOptions() options {
	return options{timeout: DefaultTimeout, retry: DefaultRetry}
}

// WithToken sends "authorization: Bearer <token>" with every call. herald
// refuses calls without a token (UNAUTHENTICATED). The token is sent over
// plaintext connections too (WithInsecure), as herald allows them for local
// and in-cluster use.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithTLS connects over TLS with this configuration (nil means the system
// roots and the host name of the address). TLS is the default: a Client made
// without WithTLS or WithInsecure uses WithTLS(nil).
func WithTLS(config *tls.Config) Option {
	return func(o *options) { o.tls = config; o.insecure = false }
}

// WithInsecure connects without TLS, for a heraldd serving plaintext (its
// default when no tls_cert_file is configured), e.g. on 127.0.0.1.
func WithInsecure() Option {
	return func(o *options) { o.insecure = true; o.tls = nil }
}

// WithTimeout sets the deadline given to unary calls (retries included)
// whose context has none; 0 means no default deadline. The default is
// DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithRetry replaces DefaultRetry. WithRetry(RetryPolicy{MaxAttempts: 1})
// disables retries.
func WithRetry(p RetryPolicy) Option {
	return func(o *options) { o.retry = p }
}

// WithBlock makes Dial wait, until its context is done, for the connection
// to be ready, so an unreachable server is reported by Dial itself. Without
// it Dial returns at once and connects in the background.
func WithBlock() Option {
	return func(o *options) { o.block = true }
}

// WithDialOptions passes extra options to grpc.NewClient, e.g. interceptors
// (which run once per attempt, inside the retries), a custom dialer or
// keepalive parameters.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}
