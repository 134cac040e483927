package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
)

// Format is the body format of a webhook.
type Format int

const (
	// FormatDefault is Harbor's native JSON payload, Content-Type
	// application/json: {"type", "occur_at", "operator", "event_data"}.
	FormatDefault Format = iota + 1
	// FormatCloudEvents is a CloudEvents 1.0 event in structured mode,
	// Content-Type application/cloudevents+json.
	FormatCloudEvents
)

// String returns "Default" or "CloudEvents", as Harbor names the formats.
func (f Format) String() string {
	switch f {
	case FormatDefault:
		return "Default"
	case FormatCloudEvents:
		return "CloudEvents"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Harbor event types (Event.Type).
const (
	TypePushArtifact      = "PUSH_ARTIFACT"
	TypePullArtifact      = "PULL_ARTIFACT"
	TypeDeleteArtifact    = "DELETE_ARTIFACT"
	TypeQuotaExceed       = "QUOTA_EXCEED"
	TypeQuotaWarning      = "QUOTA_WARNING"
	TypeScanningFailed    = "SCANNING_FAILED"
	TypeScanningStopped   = "SCANNING_STOPPED"
	TypeScanningCompleted = "SCANNING_COMPLETED"
	TypeReplication       = "REPLICATION"
	TypeTagRetention      = "TAG_RETENTION"
)

// cloudEventTypes maps CloudEvents types to Harbor event types.
var cloudEventTypes = map[string]string{
	"harbor.artifact.pushed":            TypePushArtifact,
	"harbor.artifact.pulled":            TypePullArtifact,
	"harbor.artifact.deleted":           TypeDeleteArtifact,
	"harbor.quota.exceeded":             TypeQuotaExceed,
	"harbor.quota.warned":               TypeQuotaWarning,
	"harbor.scan.failed":                TypeScanningFailed,
	"harbor.scan.stopped":               TypeScanningStopped,
	"harbor.scan.completed":             TypeScanningCompleted,
	"harbor.replication.status.changed": TypeReplication,
	"harbor.tag_retention.finished":     TypeTagRetention,
}

// CloudEventType returns the CloudEvents type of a Harbor event type
// ("PUSH_ARTIFACT" -> "harbor.artifact.pushed"), or "" if unknown.
func CloudEventType(eventType string) string {
	for ce, t := range cloudEventTypes {
		if t == eventType {
			return ce
		}
	}
	return ""
}

// Event is a parsed webhook body, whichever its format.
type Event struct {
	// Format is the body's format.
	Format Format
	// Type is the Harbor event type, e.g. "PUSH_ARTIFACT" (Type*
	// constants); for CloudEvents it is derived from the CloudEvents type,
	// and empty when that type is not a known one.
	Type string
	// OccurAt is when the event happened: Default's occur_at (whole
	// seconds) or the CloudEvents time. Zero when absent.
	OccurAt time.Time
	// Operator is who caused the event ("" for anonymous pulls).
	Operator string
	// Data is Harbor's event_data (the CloudEvents data); never nil.
	Data *EventData
	// CloudEvent holds the CloudEvents attributes; nil for Default bodies.
	CloudEvent *CloudEventAttributes
	// WebhookID is the webhook-id header, the idempotency key of the
	// delivery. Set by Verifier.VerifyRequest and Middleware; Parse, which
	// sees only the body, leaves it empty.
	WebhookID string
}

// CloudEventAttributes are the context attributes of a CloudEvents body.
type CloudEventAttributes struct {
	SpecVersion     string
	ID              string
	Source          string // "/projects/<project id>/webhook/policies/<policy id>"
	Type            string // e.g. "harbor.artifact.pushed"
	DataContentType string
	Time            time.Time
	// RequestID is the "requestid" extension (the producer's request id).
	RequestID string
	// Extensions holds every other attribute, e.g. "operator", as raw JSON.
	Extensions map[string]json.RawMessage
}

// EventData is Harbor's event_data. Which parts are set depends on the
// event type.
type EventData struct {
	// Resources are the artifacts (artifact, QUOTA_* and SCANNING_* events).
	Resources []*Resource `json:"resources,omitempty"`
	// Repository is the repository (artifact, QUOTA_* and SCANNING_* events).
	Repository *Repository `json:"repository,omitempty"`
	// Replication is set for REPLICATION.
	Replication *Replication `json:"replication,omitempty"`
	// Retention is set for TAG_RETENTION.
	Retention *Retention `json:"retention,omitempty"`
	// Scan is the kind of scan of SCANNING_* events.
	Scan *Scan `json:"scan,omitempty"`
	// CustomAttributes are free-form attributes; QUOTA_* events carry
	// "Details".
	CustomAttributes map[string]string `json:"custom_attributes,omitempty"`
}

// Resource is one artifact of an event.
type Resource struct {
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag,omitempty"`
	ResourceURL string `json:"resource_url,omitempty"`
	// ScanOverview holds vulnerability report summaries keyed by report
	// MIME type.
	ScanOverview map[string]*ScanReportSummary `json:"scan_overview,omitempty"`
	// SBOMOverview summarises an SBOM scan.
	SBOMOverview *SBOMOverview `json:"sbom_overview,omitempty"`
}

// ScanReportSummary summarises one vulnerability report.
type ScanReportSummary struct {
	ReportID   string `json:"report_id"`
	ScanStatus string `json:"scan_status"`
	Severity   string `json:"severity"`
	// Duration is in whole seconds.
	Duration int64 `json:"duration"`
	// Summary is nil for a scan that did not complete.
	Summary         *VulnerabilitySummary `json:"summary"`
	StartTime       time.Time             `json:"start_time"`
	EndTime         time.Time             `json:"end_time"`
	Scanner         *Scanner              `json:"scanner,omitempty"`
	CompletePercent int                   `json:"complete_percent"`
}

// VulnerabilitySummary counts the vulnerabilities of a report.
type VulnerabilitySummary struct {
	Total   int64 `json:"total"`
	Fixable int64 `json:"fixable"`
	// BySeverity counts by severity, e.g. {"High": 2}; Harbor's "summary".
	BySeverity map[string]int64 `json:"summary"`
}

// Scanner identifies a scanner.
type Scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// SBOMOverview summarises an SBOM scan; absent fields are zero.
type SBOMOverview struct {
	StartTime time.Time `json:"start_time,omitzero"`
	EndTime   time.Time `json:"end_time,omitzero"`
	// Duration is in whole seconds.
	Duration       int64    `json:"duration,omitempty"`
	SBOMRepository string   `json:"sbom_repository,omitempty"`
	SBOMDigest     string   `json:"sbom_digest,omitempty"`
	ScanStatus     string   `json:"scan_status,omitempty"`
	ReportID       string   `json:"report_id,omitempty"`
	Scanner        *Scanner `json:"scanner,omitempty"`
}

// Repository is the repository of an event.
type Repository struct {
	// DateCreated is the creation time in Unix seconds; 0 when absent.
	DateCreated  int64  `json:"date_created,omitempty"`
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	RepoFullName string `json:"repo_full_name"`
	RepoType     string `json:"repo_type"`
}

// Replication describes the replication task whose status changed.
type Replication struct {
	HarborHostname     string `json:"harbor_hostname,omitempty"`
	JobStatus          string `json:"job_status,omitempty"`
	Description        string `json:"description,omitempty"`
	ArtifactType       string `json:"artifact_type,omitempty"`
	AuthenticationType string `json:"authentication_type,omitempty"`
	OverrideMode       bool   `json:"override_mode,omitempty"`
	TriggerType        string `json:"trigger_type,omitempty"`
	PolicyCreator      string `json:"policy_creator,omitempty"`
	// ExecutionTimestamp is in Unix seconds.
	ExecutionTimestamp  int64                `json:"execution_timestamp,omitempty"`
	SrcResource         *ReplicationResource `json:"src_resource,omitempty"`
	DestResource        *ReplicationResource `json:"dest_resource,omitempty"`
	SuccessfulArtifacts []*ArtifactInfo      `json:"successful_artifact,omitempty"`
	FailedArtifacts     []*ArtifactInfo      `json:"failed_artifact,omitempty"`
	ExecutionID         int64                `json:"execution_id,omitempty"`
	TaskID              int64                `json:"task_id,omitempty"`
}

// ReplicationResource is one side of a replication.
type ReplicationResource struct {
	RegistryName string `json:"registry_name,omitempty"`
	RegistryType string `json:"registry_type"`
	Endpoint     string `json:"endpoint"`
	Provider     string `json:"provider,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
}

// ArtifactInfo is one artifact of a replication or retention result.
type ArtifactInfo struct {
	Type       string   `json:"type"`
	Status     string   `json:"status"`
	NameTag    string   `json:"name_tag"`
	References []string `json:"references"`
	FailReason string   `json:"fail_reason,omitempty"`
}

// Retention describes a finished tag retention run.
type Retention struct {
	Total             int64            `json:"total"`
	Retained          int64            `json:"retained"`
	HarborHostname    string           `json:"harbor_hostname,omitempty"`
	ProjectName       string           `json:"project_name,omitempty"`
	RetentionPolicyID int64            `json:"retention_policy_id,omitempty"`
	Rules             []*RetentionRule `json:"retention_rule,omitempty"`
	Result            string           `json:"result,omitempty"`
	DeletedArtifacts  []*ArtifactInfo  `json:"deleted_artifact,omitempty"`
}

// RetentionRule is one rule of a tag retention policy.
type RetentionRule struct {
	Template string `json:"template,omitempty"`
	// Params are the template's parameters; numbers are json.Number.
	Params         map[string]any         `json:"params,omitempty"`
	TagSelectors   []*Selector            `json:"tag_selectors,omitempty"`
	ScopeSelectors map[string][]*Selector `json:"scope_selectors,omitempty"`
}

// Selector narrows the artifacts a retention rule applies to.
type Selector struct {
	Kind       string `json:"kind"`
	Decoration string `json:"decoration"`
	Pattern    string `json:"pattern"`
	Extras     string `json:"extras"`
}

// Scan says which kind of scan a SCANNING_* event is about.
type Scan struct {
	ScanType string `json:"scan_type,omitempty"`
}

// ErrUnknownFormat is returned by Parse for a body that is neither a
// Default nor a CloudEvents payload.
var ErrUnknownFormat = errors.New("webhooks: not a Default or CloudEvents payload")

// Parse decodes a webhook body. contentType (the Content-Type header)
// selects the format: application/cloudevents+json is CloudEvents,
// application/json is Default; when it is empty or another type, the body
// itself decides (a "specversion" member means CloudEvents). Verify the
// signature first: Parse trusts its input.
func Parse(payload []byte, contentType string) (*Event, error) {
	format := formatOf(contentType)
	if format == 0 {
		var probe struct {
			SpecVersion *string `json:"specversion"`
			Type        *string `json:"type"`
		}
		if err := json.Unmarshal(payload, &probe); err != nil {
			return nil, fmt.Errorf("webhooks: decoding the body: %w", err)
		}
		switch {
		case probe.SpecVersion != nil:
			format = FormatCloudEvents
		case probe.Type != nil:
			format = FormatDefault
		default:
			return nil, ErrUnknownFormat
		}
	}
	if format == FormatCloudEvents {
		return parseCloudEvent(payload)
	}
	return parseDefault(payload)
}

func formatOf(contentType string) Format {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0
	}
	switch mt {
	case "application/cloudevents+json":
		return FormatCloudEvents
	case "application/json":
		return FormatDefault
	}
	return 0
}

// decode unmarshals strictly enough to report type errors, keeping
// numbers in free-form maps exact (json.Number).
func decode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func parseDefault(payload []byte) (*Event, error) {
	var body struct {
		Type      *string    `json:"type"`
		OccurAt   *int64     `json:"occur_at"`
		Operator  string     `json:"operator"`
		EventData *EventData `json:"event_data"`
	}
	if err := decode(payload, &body); err != nil {
		return nil, fmt.Errorf("webhooks: decoding a Default payload: %w", err)
	}
	if body.Type == nil {
		return nil, fmt.Errorf("webhooks: Default payload without \"type\": %w", ErrUnknownFormat)
	}
	ev := &Event{
		Format:   FormatDefault,
		Type:     *body.Type,
		Operator: body.Operator,
		Data:     body.EventData,
	}
	if body.OccurAt != nil {
		ev.OccurAt = time.Unix(*body.OccurAt, 0).UTC()
	}
	if ev.Data == nil {
		ev.Data = &EventData{}
	}
	return ev, nil
}

func parseCloudEvent(payload []byte) (*Event, error) {
	var attrs map[string]json.RawMessage
	if err := decode(payload, &attrs); err != nil {
		return nil, fmt.Errorf("webhooks: decoding a CloudEvents payload: %w", err)
	}
	ce := &CloudEventAttributes{Extensions: map[string]json.RawMessage{}}
	str := func(name string, dst *string) error {
		raw, ok := attrs[name]
		if !ok {
			return nil
		}
		delete(attrs, name)
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("webhooks: CloudEvents attribute %q: %w", name, err)
		}
		return nil
	}
	var timeText, operator string
	for _, a := range []struct {
		name string
		dst  *string
	}{
		{"specversion", &ce.SpecVersion}, {"id", &ce.ID}, {"source", &ce.Source},
		{"type", &ce.Type}, {"datacontenttype", &ce.DataContentType},
		{"time", &timeText}, {"requestid", &ce.RequestID},
	} {
		if err := str(a.name, a.dst); err != nil {
			return nil, err
		}
	}
	if ce.SpecVersion == "" || ce.Type == "" {
		return nil, fmt.Errorf("webhooks: CloudEvents payload without specversion or type: %w", ErrUnknownFormat)
	}
	if raw, ok := attrs["operator"]; ok {
		if err := json.Unmarshal(raw, &operator); err != nil {
			return nil, fmt.Errorf("webhooks: CloudEvents attribute \"operator\": %w", err)
		}
	}
	ev := &Event{
		Format:     FormatCloudEvents,
		Type:       cloudEventTypes[ce.Type],
		Operator:   operator,
		CloudEvent: ce,
		Data:       &EventData{},
	}
	if timeText != "" {
		t, err := time.Parse(time.RFC3339Nano, timeText)
		if err != nil {
			return nil, fmt.Errorf("webhooks: CloudEvents attribute \"time\": %w", err)
		}
		ce.Time = t
		ev.OccurAt = t
	}
	if raw, ok := attrs["data"]; ok {
		delete(attrs, "data")
		if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			if err := decode(raw, ev.Data); err != nil {
				return nil, fmt.Errorf("webhooks: decoding CloudEvents data: %w", err)
			}
		}
	}
	for name, raw := range attrs {
		ce.Extensions[name] = raw
	}
	return ev, nil
}

// ProjectAndPolicy returns the project and policy ids in a herald
// CloudEvents source ("/projects/<project>/webhook/policies/<policy>"), and
// whether it had that shape.
func (c *CloudEventAttributes) ProjectAndPolicy() (project, policy int64, ok bool) {
	var p, q int64
	var rest string
	n, _ := fmt.Sscanf(c.Source, "/projects/%d/webhook/policies/%d%s", &p, &q, &rest)
	if n < 2 || rest != "" || !strings.HasPrefix(c.Source, "/projects/") {
		return 0, 0, false
	}
	return p, q, true
}
