// Package webhooks is for the receiving end of herald's webhooks: it
// verifies their Standard Webhooks signatures and parses their Default
// (Harbor) and CloudEvents bodies into typed events.
//
// In an HTTP handler, the shortest way is the middleware:
//
//	v := &webhooks.Verifier{Secrets: []string{os.Getenv("WEBHOOK_SECRET")}}
//	http.Handle("/hooks/harbor", v.Middleware(http.HandlerFunc(
//		func(w http.ResponseWriter, r *http.Request) {
//			ev := webhooks.EventFromContext(r.Context())
//			log.Printf("webhook %s: %s by %q", ev.WebhookID, ev.Type, ev.Operator)
//		})))
//
// or, with the raw body and headers at hand, Verify then Parse.
//
// Signatures follow Standard Webhooks v1: herald sends the headers
// webhook-id, webhook-timestamp (Unix seconds of the attempt) and
// webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256>"
// over "<id>.<timestamp>.<body>", one per active secret (two while a secret
// is being rotated). Secrets are written "whsec_<base64 key>".
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of Standard Webhooks (http.Header lookups are
// case-insensitive).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, in either direction, when no tolerance is given: 5
// minutes, as the Standard Webhooks reference libraries use.
const DefaultTolerance = 5 * time.Minute

// secretPrefix starts a serialized Standard Webhooks secret.
const secretPrefix = "whsec_"

// Errors of Verify; test for them with errors.Is. Every verification
// failure also matches ErrVerification, so one check tells a forged or
// stale request from a configuration error (ErrInvalidSecret).
var (
	ErrVerification        = errors.New("webhooks: verification failed")
	ErrMissingHeaders      = fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature header", ErrVerification)
	ErrInvalidTimestamp    = fmt.Errorf("%w: webhook-timestamp is not an integer", ErrVerification)
	ErrTimestampTooOld     = fmt.Errorf("%w: webhook-timestamp is too old", ErrVerification)
	ErrTimestampTooNew     = fmt.Errorf("%w: webhook-timestamp is too far in the future", ErrVerification)
	ErrNoMatchingSignature = fmt.Errorf("%w: no signature matches", ErrVerification)
	ErrInvalidSecret       = errors.New("webhooks: invalid secret (want whsec_ followed by base64)")
	ErrNoSecrets           = errors.New("webhooks: no secret to verify with")
)

// Verify checks that payload, received with headers, was signed by herald
// with one of secrets ("whsec_..."; give the old and the new one while
// rotating) less than tolerance ago or ahead (0 means DefaultTolerance).
// It returns nil when it was, else an error matching ErrVerification (or
// ErrInvalidSecret / ErrNoSecrets for a bad configuration).
//
// payload must be the exact bytes received: verify before decoding. After
// a success, use the webhook-id header as the idempotency key (herald keeps
// it across retries and redeliveries).
func Verify(payload []byte, headers http.Header, secrets []string, tolerance time.Duration) error {
	v := Verifier{Secrets: secrets, Tolerance: tolerance}
	return v.Verify(payload, headers)
}

// Verifier verifies webhooks with a fixed set of secrets. The zero value
// has no secrets and refuses everything. A Verifier is safe for concurrent
// use once set up.
type Verifier struct {
	// Secrets are the accepted signing secrets, "whsec_<base64>" (a bare
	// base64 key is accepted too).
	Secrets []string
	// Tolerance is the largest accepted distance between webhook-timestamp
	// and Now, in either direction; 0 means DefaultTolerance.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Verify is the package function Verify with the Verifier's settings.
func (v *Verifier) Verify(payload []byte, headers http.Header) error {
	keys, err := decodeSecrets(v.Secrets)
	if err != nil {
		return err
	}
	id := headers.Get(HeaderID)
	ts := headers.Get(HeaderTimestamp)
	sigs := headers.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compare in whole seconds, without overflowing on absurd timestamps.
	nowSec := now().Unix()
	tolSec := int64(tolerance / time.Second)
	if sec < nowSec-tolSec {
		return ErrTimestampTooOld
	}
	if sec > nowSec+tolSec {
		return ErrTimestampTooNew
	}

	expected := make([][]byte, len(keys))
	for i, key := range keys {
		expected[i] = mac(key, id, ts, payload)
	}
	for _, sig := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue // another scheme (e.g. v1a) or garbage
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		for _, want := range expected {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// Sign returns the webhook-signature header value herald sends for payload
// with one signature per secret, as a sender would; useful to test a
// receiver. timestamp is the webhook-timestamp value.
func Sign(secrets []string, id string, timestamp time.Time, payload []byte) (string, error) {
	keys, err := decodeSecrets(secrets)
	if err != nil {
		return "", err
	}
	ts := strconv.FormatInt(timestamp.Unix(), 10)
	parts := make([]string, len(keys))
	for i, key := range keys {
		parts[i] = "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts, payload))
	}
	return strings.Join(parts, " "), nil
}

func mac(key []byte, id, ts string, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(payload)
	return h.Sum(nil)
}

func decodeSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecrets
	}
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		key, err := DecodeSecret(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// DecodeSecret returns the HMAC key of a "whsec_<base64>" secret (the
// prefix is optional; padding may be omitted).
func DecodeSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) == 0 {
		return nil, ErrInvalidSecret
	}
	return key, nil
}
