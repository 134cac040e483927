package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBodyBytes is the largest body VerifyRequest and Middleware read (herald
// refuses events above 1 MiB; rendered payloads stay below this).
const MaxBodyBytes = 8 << 20

// ErrBodyTooLarge is returned by VerifyRequest for a body over MaxBodyBytes.
var ErrBodyTooLarge = errors.New("webhooks: request body too large")

// VerifyRequest reads the body of r, verifies its signature, parses it and
// returns the event with WebhookID set. r.Body is replaced by a reader of
// the same bytes, so later handlers can read it again.
func (v *Verifier) VerifyRequest(r *http.Request) (*Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhooks: reading the body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	if err := v.Verify(body, r.Header); err != nil {
		return nil, err
	}
	ev, err := Parse(body, r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	ev.WebhookID = r.Header.Get(HeaderID)
	return ev, nil
}

type contextKey struct{}

// Middleware verifies and parses every request before passing it to next,
// with the event in its context (EventFromContext). It answers itself,
// without calling next: 401 when the signature does not verify, 500 when
// the Verifier has no valid secret (fail closed), 413 for a body over
// MaxBodyBytes, 400 for a body it cannot parse, and 405 for a method other
// than POST. herald treats any non-2xx answer as a failed attempt and
// retries it.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
			return
		}
		ev, err := v.VerifyRequest(r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, ev)))
		case errors.Is(err, ErrBodyTooLarge):
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		case errors.Is(err, ErrVerification):
			http.Error(w, "signature verification failed", http.StatusUnauthorized)
		case errors.Is(err, ErrInvalidSecret), errors.Is(err, ErrNoSecrets):
			http.Error(w, "webhook receiver misconfigured", http.StatusInternalServerError)
		default:
			http.Error(w, "cannot parse the webhook body", http.StatusBadRequest)
		}
	})
}

// EventFromContext returns the event Middleware stored in a request's
// context, or nil outside Middleware.
func EventFromContext(ctx context.Context) *Event {
	ev, _ := ctx.Value(contextKey{}).(*Event)
	return ev
}
