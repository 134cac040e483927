package webhooks_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk/go/internal/heraldtest"
	"github.com/heraldhq/herald/sdk/go/webhooks"
)

func vectorsDir(t *testing.T, sub string) string {
	t.Helper()
	root, err := heraldtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "tests", "vectors", sub)
}

// signatureVector is one file of tests/vectors/webhooks (see its README).
type signatureVector struct {
	Description      string   `json:"description"`
	Secret           string   `json:"secret"`
	Secrets          []string `json:"secrets"`
	ID               *string  `json:"id"`
	Timestamp        *string  `json:"timestamp"`
	Body             string   `json:"body"`
	Header           *string  `json:"header"`
	SignedWith       []string `json:"signed_with"`
	SignCheck        bool     `json:"sign_check"`
	Now              int64    `json:"now"`
	ToleranceSeconds int64    `json:"tolerance_seconds"`
	Valid            bool     `json:"valid"`
	Error            *string  `json:"error"`
}

var wantErrors = map[string]error{
	"missing_header":        webhooks.ErrMissingHeaders,
	"invalid_timestamp":     webhooks.ErrInvalidTimestamp,
	"timestamp_too_old":     webhooks.ErrTimestampTooOld,
	"timestamp_too_new":     webhooks.ErrTimestampTooNew,
	"no_matching_signature": webhooks.ErrNoMatchingSignature,
}

func loadSignatureVectors(t *testing.T) map[string]signatureVector {
	t.Helper()
	dir := vectorsDir(t, "webhooks")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no signature vectors in %s (%v)", dir, err)
	}
	out := map[string]signatureVector{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v signatureVector
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = v
	}
	return out
}

func (v signatureVector) headers() http.Header {
	h := http.Header{}
	if v.ID != nil {
		h.Set(webhooks.HeaderID, *v.ID)
	}
	if v.Timestamp != nil {
		h.Set(webhooks.HeaderTimestamp, *v.Timestamp)
	}
	if v.Header != nil {
		h.Set(webhooks.HeaderSignature, *v.Header)
	}
	return h
}

func TestSignatureVectors(t *testing.T) {
	vectors := loadSignatureVectors(t)
	// The families the issue asks for must be there (the shared files are
	// the contract between the SDKs).
	for _, name := range []string{
		"valid_default_payload", "valid_cloudevents_payload", "invalid_tampered_body",
		"invalid_wrong_secret", "invalid_expired_timestamp", "valid_rotation_old_secret",
		"valid_rotation_new_secret", "valid_receiver_several_secrets",
	} {
		if _, ok := vectors[name]; !ok {
			t.Errorf("vector %s.json is missing", name)
		}
	}
	names := make([]string, 0, len(vectors))
	for name := range vectors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := vectors[name]
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "valid_") != v.Valid {
				t.Fatalf("file name and valid=%v disagree", v.Valid)
			}
			verifier := &webhooks.Verifier{
				Secrets:   v.Secrets,
				Tolerance: time.Duration(v.ToleranceSeconds) * time.Second,
				Now:       func() time.Time { return time.Unix(v.Now, 0) },
			}
			err := verifier.Verify([]byte(v.Body), v.headers())
			if v.Valid {
				if err != nil {
					t.Fatalf("%s: want valid, got %v", v.Description, err)
				}
			} else {
				want, ok := wantErrors[*v.Error]
				if !ok {
					t.Fatalf("unknown error kind %q", *v.Error)
				}
				if !errors.Is(err, want) || !errors.Is(err, webhooks.ErrVerification) {
					t.Fatalf("%s: want %v, got %v", v.Description, want, err)
				}
			}
			// The package function agrees (it takes the clock from time.Now,
			// so only when the vector's timestamp is acceptable now... use a
			// tolerance wide enough to reach the vector's clock instead).
			if v.Timestamp != nil {
				if ts, perr := strconv.ParseInt(*v.Timestamp, 10, 64); perr == nil && (v.Valid || *v.Error == "no_matching_signature") {
					wide := time.Since(time.Unix(ts, 0)) + time.Hour
					err2 := webhooks.Verify([]byte(v.Body), v.headers(), v.Secrets, wide)
					if (err2 == nil) != v.Valid {
						t.Fatalf("Verify(): valid=%v, got %v", v.Valid, err2)
					}
				}
			}
			// Sender side: Sign reproduces the header.
			if v.SignCheck {
				ts, err := strconv.ParseInt(*v.Timestamp, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				got, err := webhooks.Sign(v.SignedWith, *v.ID, time.Unix(ts, 0), []byte(v.Body))
				if err != nil {
					t.Fatal(err)
				}
				if got != *v.Header {
					t.Fatalf("Sign = %q, want %q", got, *v.Header)
				}
			}
		})
	}
}

func TestVerifyConfiguration(t *testing.T) {
	h := http.Header{}
	h.Set(webhooks.HeaderID, "msg_1")
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	h.Set(webhooks.HeaderSignature, "v1,AAAA")
	if err := webhooks.Verify([]byte("{}"), h, nil, 0); !errors.Is(err, webhooks.ErrNoSecrets) {
		t.Fatalf("no secrets: got %v", err)
	}
	if err := webhooks.Verify([]byte("{}"), h, []string{"whsec_***"}, 0); !errors.Is(err, webhooks.ErrInvalidSecret) {
		t.Fatalf("bad secret: got %v", err)
	}
	// Default tolerance: 5 minutes each way.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, c := range []struct {
		age  time.Duration
		want error
	}{
		{0, nil}, {4 * time.Minute, nil}, {-4 * time.Minute, nil},
		{6 * time.Minute, webhooks.ErrTimestampTooOld}, {-6 * time.Minute, webhooks.ErrTimestampTooNew},
	} {
		ts := time.Now().Add(-c.age)
		sig, err := webhooks.Sign([]string{secret}, "msg_1", ts, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(webhooks.HeaderSignature, sig)
		if err := webhooks.Verify([]byte("{}"), h, []string{secret}, 0); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("age %v: got %v, want %v", c.age, err, c.want)
		}
	}
}

// payloadCase is what the tests need of cases/<name>.case.json.
type payloadCase struct {
	CloudEvents struct {
		ID       string `json:"id"`
		PolicyID int64  `json:"policy_id"`
	} `json:"cloudevents"`
	Event struct {
		EventType string      `json:"event_type"`
		ProjectID json.Number `json:"project_id"`
		Operator  string      `json:"operator"`
		OccurTime *time.Time  `json:"occur_time"`
		RequestID string      `json:"request_id"`
	} `json:"event"`
}

// jsonValue decodes JSON into generic values for a structural comparison.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseVectorCases(t *testing.T) {
	dir := vectorsDir(t, "cases")
	cases, err := filepath.Glob(filepath.Join(dir, "*.case.json"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no payload cases in %s (%v)", dir, err)
	}
	seenTypes := map[string]bool{}
	for _, casePath := range cases {
		name := strings.TrimSuffix(filepath.Base(casePath), ".case.json")
		t.Run(name, func(t *testing.T) {
			var c payloadCase
			b, err := os.ReadFile(casePath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			defBody, err := os.ReadFile(filepath.Join(dir, name+".default.json"))
			if err != nil {
				t.Fatal(err)
			}
			ceBody, err := os.ReadFile(filepath.Join(dir, name+".cloudevents.json"))
			if err != nil {
				t.Fatal(err)
			}

			def, err := webhooks.Parse(defBody, "application/json")
			if err != nil {
				t.Fatalf("Parse(default): %v", err)
			}
			ce, err := webhooks.Parse(ceBody, "application/cloudevents+json; charset=utf-8")
			if err != nil {
				t.Fatalf("Parse(cloudevents): %v", err)
			}
			seenTypes[def.Type] = true

			// Default: every field of the body is in the typed event: the
			// typed data marshals back to the same JSON structure.
			var defRaw struct {
				Type      string          `json:"type"`
				OccurAt   int64           `json:"occur_at"`
				Operator  string          `json:"operator"`
				EventData json.RawMessage `json:"event_data"`
			}
			if err := json.Unmarshal(defBody, &defRaw); err != nil {
				t.Fatal(err)
			}
			if def.Format != webhooks.FormatDefault || def.CloudEvent != nil {
				t.Errorf("default: format %v", def.Format)
			}
			if def.Type != c.Event.EventType || def.Type != defRaw.Type {
				t.Errorf("default: type %q, want %q", def.Type, c.Event.EventType)
			}
			if def.Operator != c.Event.Operator {
				t.Errorf("default: operator %q, want %q", def.Operator, c.Event.Operator)
			}
			if def.OccurAt.Unix() != defRaw.OccurAt {
				t.Errorf("default: occur_at %v, want %d", def.OccurAt, defRaw.OccurAt)
			}
			if c.Event.OccurTime != nil && def.OccurAt.Unix() != c.Event.OccurTime.Unix() {
				t.Errorf("default: occur_at %v, want %v", def.OccurAt, c.Event.OccurTime)
			}
			roundTrip(t, "default event_data", defRaw.EventData, def.Data)

			// CloudEvents: attributes and data.
			var ceRaw struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(ceBody, &ceRaw); err != nil {
				t.Fatal(err)
			}
			if ce.Format != webhooks.FormatCloudEvents || ce.CloudEvent == nil {
				t.Fatalf("cloudevents: format %v", ce.Format)
			}
			attrs := ce.CloudEvent
			if ce.Type != c.Event.EventType {
				t.Errorf("cloudevents: type %q (%q), want %q", ce.Type, attrs.Type, c.Event.EventType)
			}
			if webhooks.CloudEventType(ce.Type) != attrs.Type {
				t.Errorf("CloudEventType(%q) = %q, want %q", ce.Type, webhooks.CloudEventType(ce.Type), attrs.Type)
			}
			if attrs.SpecVersion != "1.0" || attrs.ID != c.CloudEvents.ID || attrs.DataContentType != "application/json" {
				t.Errorf("cloudevents: attributes %+v", attrs)
			}
			if attrs.RequestID != c.Event.RequestID {
				t.Errorf("cloudevents: requestid %q, want %q", attrs.RequestID, c.Event.RequestID)
			}
			if ce.Operator != c.Event.Operator {
				t.Errorf("cloudevents: operator %q, want %q", ce.Operator, c.Event.Operator)
			}
			project, policy, ok := attrs.ProjectAndPolicy()
			if !ok || strconv.FormatInt(project, 10) != c.Event.ProjectID.String() || policy != c.CloudEvents.PolicyID {
				t.Errorf("cloudevents: source %q -> %d, %d, %v", attrs.Source, project, policy, ok)
			}
			// Harbor's CloudEvents time has whole seconds.
			if c.Event.OccurTime != nil && ce.OccurAt.Unix() != c.Event.OccurTime.Unix() {
				t.Errorf("cloudevents: time %v, want %v", ce.OccurAt, c.Event.OccurTime)
			}
			if !ce.OccurAt.Equal(attrs.Time) {
				t.Errorf("cloudevents: OccurAt %v != Time %v", ce.OccurAt, attrs.Time)
			}
			roundTrip(t, "cloudevents data", ceRaw.Data, ce.Data)

			// Both formats carry the same data.
			if !reflect.DeepEqual(def.Data, ce.Data) {
				t.Errorf("default and cloudevents data differ")
			}

			// Without a content type the body decides.
			for body, want := range map[string]webhooks.Format{string(defBody): webhooks.FormatDefault, string(ceBody): webhooks.FormatCloudEvents} {
				ev, err := webhooks.Parse([]byte(body), "")
				if err != nil || ev.Format != want {
					t.Errorf("Parse without content type: %v, %v; want %v", ev, err, want)
				}
			}
		})
	}
	for _, typ := range []string{
		webhooks.TypePushArtifact, webhooks.TypePullArtifact, webhooks.TypeDeleteArtifact,
		webhooks.TypeQuotaExceed, webhooks.TypeQuotaWarning, webhooks.TypeScanningFailed,
		webhooks.TypeScanningStopped, webhooks.TypeScanningCompleted, webhooks.TypeReplication,
		webhooks.TypeTagRetention,
	} {
		if !seenTypes[typ] {
			t.Errorf("no vector case of type %s", typ)
		}
	}
}

// roundTrip checks that typed data marshals back to the JSON it came from,
// i.e. that no field was lost or mistyped.
func roundTrip(t *testing.T, what string, raw json.RawMessage, data *webhooks.EventData) {
	t.Helper()
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	back, err := json.Marshal(data)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if want, got := jsonValue(t, raw), jsonValue(t, back); !reflect.DeepEqual(want, got) {
		t.Errorf("%s does not round-trip:\n got %s\nwant %s", what, back, raw)
	}
}

func TestParseTyped(t *testing.T) {
	dir := vectorsDir(t, "cases")
	b, err := os.ReadFile(filepath.Join(dir, "vulnerability_scan_full.default.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := webhooks.Parse(b, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Data.Resources[0]
	sum := r.ScanOverview["application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"]
	if sum == nil || sum.Summary == nil || sum.Summary.BySeverity["Critical"] != 2 || sum.Scanner.Name != "Trivy" ||
		sum.StartTime.Nanosecond() != 1 || sum.Duration != 65 {
		t.Fatalf("scan overview: %+v", sum)
	}
	running := r.ScanOverview["application/vnd.security.vulnerability.report; version=1.1"]
	if running == nil || running.Summary != nil || !running.StartTime.IsZero() {
		t.Fatalf("running scan: %+v", running)
	}
	if ev.Data.Repository.RepoFullName != "team/sub/app" || ev.Data.Scan.ScanType != "vulnerability" {
		t.Fatalf("repository/scan: %+v %+v", ev.Data.Repository, ev.Data.Scan)
	}

	b, err = os.ReadFile(filepath.Join(dir, "retention_params.cloudevents.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err = webhooks.Parse(b, "application/cloudevents+json")
	if err != nil {
		t.Fatal(err)
	}
	rule := ev.Data.Retention.Rules[0]
	if n, ok := rule.Params["latestPushedK"].(json.Number); !ok || n.String() != "10" {
		t.Fatalf("params: %#v", rule.Params)
	}
	if ev.Data.Retention.DeletedArtifacts[0].NameTag != "library/app:old" {
		t.Fatalf("retention: %+v", ev.Data.Retention)
	}

	for _, bad := range []string{`not json`, `{"foo":1}`, `[]`, `{"specversion":"1.0"}`, `{"type":"X"} {}`} {
		if _, err := webhooks.Parse([]byte(bad), ""); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestMiddleware(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	got := make(chan *webhooks.Event, 1)
	v := &webhooks.Verifier{Secrets: []string{secret}}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // still readable after the middleware
		if len(body) == 0 {
			http.Error(w, "empty body downstream", 500)
			return
		}
		got <- webhooks.EventFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()

	body, err := os.ReadFile(filepath.Join(vectorsDir(t, "cases"), "doc_push_artifact.cloudevents.json"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, sign []byte, mutate func(*http.Request)) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
		now := time.Now()
		sig, err := webhooks.Sign([]string{secret}, "msg_42", now, sign)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/cloudevents+json")
		req.Header.Set("webhook-id", "msg_42")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		if mutate != nil {
			mutate(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(body, body, nil); code != http.StatusNoContent {
		t.Fatalf("valid webhook: %d", code)
	}
	ev := <-got
	if ev == nil || ev.WebhookID != "msg_42" || ev.Type != webhooks.TypePushArtifact || ev.Data.Repository.Name != "alpine" {
		t.Fatalf("event in context: %+v", ev)
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] ^= 1
	if code := post(tampered, body, nil); code != http.StatusUnauthorized {
		t.Fatalf("tampered webhook: %d", code)
	}
	if code := post(body, body, func(r *http.Request) { r.Header.Del("webhook-signature") }); code != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %d", code)
	}
	if code := post([]byte("not json"), []byte("not json"), nil); code != http.StatusBadRequest {
		t.Fatalf("unparsable webhook: %d", code)
	}
	if code := post(body, body, func(r *http.Request) { r.Method = http.MethodPut }); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", code)
	}
	bad := &webhooks.Verifier{}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	bad.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("verifier without secrets: %d", rec.Code)
	}
}
