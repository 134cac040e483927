// Command gojson produces the expected bytes of herald's golden vectors with
// the real Go encoder: encoding/json for the Default payload and the Slack
// texts, and the CloudEvents Go SDK (the version Harbor pins) for the
// CloudEvents envelope. The structs below declare Harbor's payload fields
// with the same JSON names, order and omitempty options as Harbor's Go
// structs, so json.Marshal of them yields the bytes a Harbor receiver sees.
//
// Usage:
//
//	gojson cases <dir> <outdir>   for each <dir>/*.case.json write
//	                              <outdir>/<name>.{default,cloudevents,slack}.json
//	gojson strings <in> <out>     escape raw strings (base64 in the input)
//	                              the way encoding/json and the SDK do
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
)

// ---- Harbor's payload shape (field order and tags are what matter) ----

type payload struct {
	Type      string     `json:"type"`
	OccurAt   int64      `json:"occur_at"`
	Operator  string     `json:"operator"`
	EventData *eventData `json:"event_data,omitempty"`
}

type eventData struct {
	Resources   []*resource       `json:"resources,omitempty"`
	Repository  *repository       `json:"repository,omitempty"`
	Replication *replication      `json:"replication,omitempty"`
	Retention   *retention        `json:"retention,omitempty"`
	Scan        *scan             `json:"scan,omitempty"`
	Custom      map[string]string `json:"custom_attributes,omitempty"`
}

type resource struct {
	Digest       string         `json:"digest,omitempty"`
	Tag          string         `json:"tag,omitempty"`
	ResourceURL  string         `json:"resource_url,omitempty"`
	ScanOverview map[string]any `json:"scan_overview,omitempty"`
	SBOMOverview map[string]any `json:"sbom_overview,omitempty"`
}

type repository struct {
	DateCreated  int64  `json:"date_created,omitempty"`
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	RepoFullName string `json:"repo_full_name"`
	RepoType     string `json:"repo_type"`
}

type replication struct {
	HarborHostname     string               `json:"harbor_hostname,omitempty"`
	JobStatus          string               `json:"job_status,omitempty"`
	Description        string               `json:"description,omitempty"`
	ArtifactType       string               `json:"artifact_type,omitempty"`
	AuthenticationType string               `json:"authentication_type,omitempty"`
	OverrideMode       bool                 `json:"override_mode,omitempty"`
	TriggerType        string               `json:"trigger_type,omitempty"`
	PolicyCreator      string               `json:"policy_creator,omitempty"`
	ExecutionTimestamp int64                `json:"execution_timestamp,omitempty"`
	SrcResource        *replicationResource `json:"src_resource,omitempty"`
	DestResource       *replicationResource `json:"dest_resource,omitempty"`
	SuccessfulArtifact []*artifactInfo      `json:"successful_artifact,omitempty"`
	FailedArtifact     []*artifactInfo      `json:"failed_artifact,omitempty"`
	ExecutionID        int64                `json:"execution_id,omitempty"`
	TaskID             int64                `json:"task_id,omitempty"`
}

type artifactInfo struct {
	Type       string   `json:"type"`
	Status     string   `json:"status"`
	NameAndTag string   `json:"name_tag"`
	References []string `json:"references"`
	FailReason string   `json:"fail_reason,omitempty"`
}

type replicationResource struct {
	RegistryName string `json:"registry_name,omitempty"`
	RegistryType string `json:"registry_type"`
	Endpoint     string `json:"endpoint"`
	Provider     string `json:"provider,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
}

type retention struct {
	Total             int              `json:"total"`
	Retained          int              `json:"retained"`
	HarborHostname    string           `json:"harbor_hostname,omitempty"`
	ProjectName       string           `json:"project_name,omitempty"`
	RetentionPolicyID int64            `json:"retention_policy_id,omitempty"`
	RetentionRules    []*retentionRule `json:"retention_rule,omitempty"`
	Status            string           `json:"result,omitempty"`
	DeletedArtifact   []*artifactInfo  `json:"deleted_artifact,omitempty"`
}

type retentionRule struct {
	Template       string                 `json:"template,omitempty"`
	Parameters     map[string]any         `json:"params,omitempty"`
	TagSelectors   []*selector            `json:"tag_selectors,omitempty"`
	ScopeSelectors map[string][]*selector `json:"scope_selectors,omitempty"`
}

type selector struct {
	Kind       string `json:"kind"`
	Decoration string `json:"decoration"`
	Pattern    string `json:"pattern"`
	Extras     string `json:"extras"`
}

type scan struct {
	ScanType string `json:"scan_type,omitempty"`
}

type nativeReportSummary struct {
	ReportID        string                `json:"report_id"`
	ScanStatus      string                `json:"scan_status"`
	Severity        string                `json:"severity"`
	Duration        int64                 `json:"duration"`
	Summary         *vulnerabilitySummary `json:"summary"`
	StartTime       time.Time             `json:"start_time"`
	EndTime         time.Time             `json:"end_time"`
	Scanner         *scanner              `json:"scanner,omitempty"`
	CompletePercent int                   `json:"complete_percent"`
}

type vulnerabilitySummary struct {
	Total   int            `json:"total"`
	Fixable int            `json:"fixable"`
	Summary map[string]int `json:"summary"`
}

type scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// ---- the case files: herald.v1.Event in the proto3 JSON mapping ----

type caseFile struct {
	CloudEvents struct {
		ID       string `json:"id"`
		PolicyID int64  `json:"policy_id"`
	} `json:"cloudevents"`
	Event inEvent `json:"event"`
}

type inEvent struct {
	EventType        string            `json:"event_type"`
	ProjectID        i64               `json:"project_id"`
	Operator         string            `json:"operator"`
	OccurTime        *time.Time        `json:"occur_time"`
	RequestID        string            `json:"request_id"`
	Resources        []inResource      `json:"resources"`
	Repository       *inRepository     `json:"repository"`
	Replication      *inReplication    `json:"replication"`
	Retention        *inRetention      `json:"retention"`
	Scan             *scan             `json:"scan"`
	CustomAttributes map[string]string `json:"custom_attributes"`
}

type inResource struct {
	Digest       string                     `json:"digest"`
	Tag          string                     `json:"tag"`
	ResourceURL  string                     `json:"resource_url"`
	ScanOverview map[string]inReportSummary `json:"scan_overview"`
	SbomOverview *inSbom                    `json:"sbom_overview"`
}

type inReportSummary struct {
	ReportID   string `json:"report_id"`
	ScanStatus string `json:"scan_status"`
	Severity   string `json:"severity"`
	Duration   string `json:"duration"`
	Summary    *struct {
		Total          i64            `json:"total"`
		Fixable        i64            `json:"fixable"`
		SeverityCounts map[string]i64 `json:"severity_counts"`
	} `json:"summary"`
	StartTime       *time.Time `json:"start_time"`
	EndTime         *time.Time `json:"end_time"`
	Scanner         *scanner   `json:"scanner"`
	CompletePercent int        `json:"complete_percent"`
}

type inSbom struct {
	StartTime      *time.Time `json:"start_time"`
	EndTime        *time.Time `json:"end_time"`
	Duration       *string    `json:"duration"`
	SbomRepository *string    `json:"sbom_repository"`
	SbomDigest     *string    `json:"sbom_digest"`
	ScanStatus     *string    `json:"scan_status"`
	ReportID       *string    `json:"report_id"`
	Scanner        *scanner   `json:"scanner"`
}

type inRepository struct {
	CreateTime   *time.Time `json:"create_time"`
	Name         string     `json:"name"`
	Namespace    string     `json:"namespace"`
	RepoFullName string     `json:"repo_full_name"`
	RepoType     string     `json:"repo_type"`
}

type inArtifact struct {
	Type       string   `json:"type"`
	Status     string   `json:"status"`
	NameTag    string   `json:"name_tag"`
	References []string `json:"references"`
	FailReason string   `json:"fail_reason"`
}

type inReplication struct {
	HarborHostname      string               `json:"harbor_hostname"`
	JobStatus           string               `json:"job_status"`
	Description         string               `json:"description"`
	ArtifactType        string               `json:"artifact_type"`
	AuthenticationType  string               `json:"authentication_type"`
	OverrideMode        bool                 `json:"override_mode"`
	TriggerType         string               `json:"trigger_type"`
	PolicyCreator       string               `json:"policy_creator"`
	ExecutionTime       *time.Time           `json:"execution_time"`
	SrcResource         *replicationResource `json:"src_resource"`
	DestResource        *replicationResource `json:"dest_resource"`
	SuccessfulArtifacts []inArtifact         `json:"successful_artifacts"`
	FailedArtifacts     []inArtifact         `json:"failed_artifacts"`
	ExecutionID         i64                  `json:"execution_id"`
	TaskID              i64                  `json:"task_id"`
}

type inRetention struct {
	Total             i64          `json:"total"`
	Retained          i64          `json:"retained"`
	HarborHostname    string       `json:"harbor_hostname"`
	ProjectName       string       `json:"project_name"`
	RetentionPolicyID i64          `json:"retention_policy_id"`
	RetentionRules    []inRule     `json:"retention_rules"`
	Result            string       `json:"result"`
	DeletedArtifacts  []inArtifact `json:"deleted_artifacts"`
}

type inRule struct {
	Template       string         `json:"template"`
	Params         map[string]any `json:"params"`
	TagSelectors   []*selector    `json:"tag_selectors"`
	ScopeSelectors map[string]struct {
		Selectors []*selector `json:"selectors"`
	} `json:"scope_selectors"`
}

// i64 is a proto3 JSON int64: a number or a decimal string.
type i64 int64

func (v *i64) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	x, err := n.Int64()
	*v = i64(x)
	return err
}

// ---- conversion: what Harbor would have built ----

func seconds(d string) int64 {
	if d == "" {
		return 0
	}
	v, err := time.ParseDuration(d)
	check(err)
	return int64(v / time.Second)
}

func unix(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

func artifacts(in []inArtifact) []*artifactInfo {
	var out []*artifactInfo
	for _, a := range in {
		out = append(out, &artifactInfo{a.Type, a.Status, a.NameTag, a.References, a.FailReason})
	}
	return out
}

func toPayload(e *inEvent) *payload {
	p := &payload{Type: e.EventType, OccurAt: unix(e.OccurTime), Operator: e.Operator, EventData: &eventData{}}
	d := p.EventData
	for _, r := range e.Resources {
		res := &resource{Digest: r.Digest, Tag: r.Tag, ResourceURL: r.ResourceURL}
		if len(r.ScanOverview) > 0 {
			res.ScanOverview = map[string]any{}
			for mime, s := range r.ScanOverview {
				sum := &nativeReportSummary{ReportID: s.ReportID, ScanStatus: s.ScanStatus, Severity: s.Severity,
					Duration: seconds(s.Duration), Scanner: s.Scanner, CompletePercent: s.CompletePercent}
				if s.Summary != nil {
					sum.Summary = &vulnerabilitySummary{Total: int(s.Summary.Total), Fixable: int(s.Summary.Fixable), Summary: map[string]int{}}
					for k, v := range s.Summary.SeverityCounts {
						sum.Summary.Summary[k] = int(v)
					}
				}
				if s.StartTime != nil {
					sum.StartTime = s.StartTime.UTC()
				}
				if s.EndTime != nil {
					sum.EndTime = s.EndTime.UTC()
				}
				res.ScanOverview[mime] = sum
			}
		}
		if s := r.SbomOverview; s != nil {
			m := map[string]any{}
			if s.StartTime != nil {
				m["start_time"] = s.StartTime.UTC()
			}
			if s.EndTime != nil {
				m["end_time"] = s.EndTime.UTC()
			}
			if s.Duration != nil {
				m["duration"] = seconds(*s.Duration)
			}
			for k, v := range map[string]*string{"sbom_repository": s.SbomRepository, "sbom_digest": s.SbomDigest,
				"scan_status": s.ScanStatus, "report_id": s.ReportID} {
				if v != nil {
					m[k] = *v
				}
			}
			if s.Scanner != nil {
				m["scanner"] = s.Scanner
			}
			if len(m) > 0 {
				res.SBOMOverview = m
			}
		}
		d.Resources = append(d.Resources, res)
	}
	if r := e.Repository; r != nil {
		d.Repository = &repository{unix(r.CreateTime), r.Name, r.Namespace, r.RepoFullName, r.RepoType}
	}
	if r := e.Replication; r != nil {
		d.Replication = &replication{r.HarborHostname, r.JobStatus, r.Description, r.ArtifactType,
			r.AuthenticationType, r.OverrideMode, r.TriggerType, r.PolicyCreator, unix(r.ExecutionTime),
			r.SrcResource, r.DestResource, artifacts(r.SuccessfulArtifacts), artifacts(r.FailedArtifacts),
			int64(r.ExecutionID), int64(r.TaskID)}
	}
	if r := e.Retention; r != nil {
		ret := &retention{Total: int(r.Total), Retained: int(r.Retained), HarborHostname: r.HarborHostname,
			ProjectName: r.ProjectName, RetentionPolicyID: int64(r.RetentionPolicyID), Status: r.Result,
			DeletedArtifact: artifacts(r.DeletedArtifacts)}
		for _, rule := range r.RetentionRules {
			rr := &retentionRule{Template: rule.Template, Parameters: rule.Params, TagSelectors: rule.TagSelectors}
			if len(rule.ScopeSelectors) > 0 {
				rr.ScopeSelectors = map[string][]*selector{}
				for k, v := range rule.ScopeSelectors {
					list := v.Selectors
					if list == nil {
						list = []*selector{}
					}
					rr.ScopeSelectors[k] = list
				}
			}
			ret.RetentionRules = append(ret.RetentionRules, rr)
		}
		d.Retention = ret
	}
	d.Scan = e.Scan
	if len(e.CustomAttributes) > 0 {
		d.Custom = e.CustomAttributes
	}
	return p
}

var ceTypes = map[string]string{
	"PUSH_ARTIFACT": "artifact.pushed", "PULL_ARTIFACT": "artifact.pulled", "DELETE_ARTIFACT": "artifact.deleted",
	"QUOTA_EXCEED": "quota.exceeded", "QUOTA_WARNING": "quota.warned", "REPLICATION": "replication.status.changed",
	"SCANNING_FAILED": "scan.failed", "SCANNING_COMPLETED": "scan.completed", "SCANNING_STOPPED": "scan.stopped",
	"TAG_RETENTION": "tag_retention.finished",
}

// cloudEvent builds the envelope the way Harbor's CloudEvents formatter does.
func cloudEvent(p *payload, id string, projectID, policyID int64, requestID string) []byte {
	ev := ce.New()
	ev.SetID(id)
	ev.SetExtension("requestid", requestID)
	ev.SetSource(fmt.Sprintf("/projects/%d/webhook/policies/%d", projectID, policyID))
	ev.SetType("harbor." + ceTypes[p.Type])
	ev.SetTime(time.Unix(p.OccurAt, 0))
	ev.SetExtension("operator", p.Operator)
	check(ev.SetData(ce.ApplicationJSON, p.EventData))
	out, err := json.Marshal(ev)
	check(err)
	return out
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}
type slackBlock struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

// slack is herald's valid-JSON Slack body: Harbor's section texts.
func slack(p *payload) []byte {
	indented, err := json.MarshalIndent(p.EventData, "", "\t")
	check(err)
	texts := []string{
		"*Harbor webhook events*",
		"*event_type:* " + p.Type,
		fmt.Sprintf("*occur_at:* <!date^%d^{date} at {time}|February 18th, 2014 at 6:39 AM PST>", p.OccurAt),
		"*operator:* " + p.Operator,
		"*event_data:*",
		"```" + string(indented) + "```",
	}
	var body struct {
		Blocks []slackBlock `json:"blocks"`
	}
	for _, t := range texts {
		body.Blocks = append(body.Blocks, slackBlock{"section", slackText{"mrkdwn", t}})
	}
	out, err := json.Marshal(body)
	check(err)
	return out
}

func runCases(dir, outDir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.case.json"))
	check(err)
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		check(err)
		var c caseFile
		check(json.Unmarshal(raw, &c))
		p := toPayload(&c.Event)
		name := strings.TrimSuffix(filepath.Base(f), ".case.json")
		def, err := json.Marshal(p)
		check(err)
		write(filepath.Join(outDir, name+".default.json"), def)
		write(filepath.Join(outDir, name+".cloudevents.json"),
			cloudEvent(p, c.CloudEvents.ID, int64(c.Event.ProjectID), c.CloudEvents.PolicyID, c.Event.RequestID))
		write(filepath.Join(outDir, name+".slack.json"), slack(p))
	}
}

// runStrings escapes each input string as a JSON string value (json.Marshal)
// and as a CloudEvents extension value (the SDK, then json.Marshal).
func runStrings(in, out string) {
	raw, err := os.ReadFile(in)
	check(err)
	var input struct {
		Strings []struct {
			Name string `json:"name"`
			B64  string `json:"base64"`
		} `json:"strings"`
	}
	check(json.Unmarshal(raw, &input))
	type result struct {
		Name      string `json:"name"`
		Go        string `json:"go_base64"`
		Attribute string `json:"cloudevents_attribute_base64"`
	}
	var results []result
	for _, s := range input.Strings {
		value, err := base64.StdEncoding.DecodeString(s.B64)
		check(err)
		g, err := json.Marshal(string(value))
		check(err)
		ev := ce.New()
		ev.SetID("1")
		ev.SetSource("/s")
		ev.SetType("t")
		ev.SetExtension("operator", string(value))
		envelope, err := json.Marshal(ev)
		check(err)
		const key = `"operator":`
		at := strings.LastIndex(string(envelope), key)
		attr := envelope[at+len(key) : len(envelope)-1]
		results = append(results, result{s.Name, base64.StdEncoding.EncodeToString(g),
			base64.StdEncoding.EncodeToString(attr)})
	}
	encoded, err := json.MarshalIndent(map[string]any{"results": results}, "", "  ")
	check(err)
	write(out, append(encoded, '\n'))
}

func write(path string, data []byte) {
	check(os.WriteFile(path, data, 0o644))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gojson:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "cases" {
		runCases(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "strings" {
		runStrings(os.Args[2], os.Args[3])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: gojson cases <dir> <outdir> | gojson strings <in.json> <out.json>")
	os.Exit(2)
}
