// heraldctl policies create|get|list|update|delete|enable|disable|event-types
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/heraldctl/cli.h"

namespace herald::ctl {
namespace {

using Kind = FlagSpec::Kind;

std::string StripPrefix(const std::string& name, const std::string& prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

std::string TargetTypeName(v1::TargetType t) {
  return StripPrefix(v1::TargetType_Name(t), "TARGET_TYPE_");
}

std::string FormatName(v1::PayloadFormat f) {
  return StripPrefix(v1::PayloadFormat_Name(f), "PAYLOAD_FORMAT_");
}

std::string Enabled(const v1::Policy& p) {
  return !p.has_enabled() || p.enabled() ? "enabled" : "disabled";
}

void PrintPolicy(Output& out, const v1::Policy& p) {
  if (out.json()) {
    out.Json(p);
    return;
  }
  std::vector<std::pair<std::string, Table::Cell>> rows = {
      {"id", {absl::StrCat(p.id())}},
      {"project", {absl::StrCat(p.project_id())}},
      {"name", {p.name()}},
      {"description", {p.description()}},
      {"state", {Enabled(p), StatusColor(Enabled(p))}},
      {"event types", {absl::StrJoin(p.event_types(), ", ")}},
      {"creator", {p.creator()}},
      {"created", {FormatTime(p.create_time())}},
      {"updated", {FormatTime(p.update_time())}},
  };
  if (p.has_filters()) {
    const v1::Filters& f = p.filters();
    if (!f.repository_patterns().empty()) {
      rows.push_back({"repositories", {absl::StrJoin(f.repository_patterns(), ", ")}});
    }
    if (!f.tag_patterns().empty()) {
      rows.push_back({"tags", {absl::StrJoin(f.tag_patterns(), ", ")}});
    }
    if (!f.scan_statuses().empty()) {
      rows.push_back({"scan statuses", {absl::StrJoin(f.scan_statuses(), ", ")}});
    }
    if (!f.replication_statuses().empty()) {
      rows.push_back(
          {"replication statuses", {absl::StrJoin(f.replication_statuses(), ", ")}});
    }
  }
  if (p.has_retry_policy()) {
    const v1::RetryPolicy& r = p.retry_policy();
    std::vector<std::string> parts;
    if (r.max_attempts() > 0) parts.push_back(absl::StrCat("max_attempts ", r.max_attempts()));
    if (r.backoff() == v1::BACKOFF_KIND_EXPONENTIAL) {
      parts.push_back(absl::StrCat("exponential backoff ", FormatDuration(r.initial_backoff()),
                                   "..", FormatDuration(r.max_backoff())));
    } else if (r.backoff() == v1::BACKOFF_KIND_HARBOR) {
      parts.push_back("harbor backoff");
    }
    if (r.http_timeout().seconds() > 0 || r.http_timeout().nanos() > 0) {
      parts.push_back(absl::StrCat("http_timeout ", FormatDuration(r.http_timeout())));
    }
    if (!parts.empty()) rows.push_back({"retry", {absl::StrJoin(parts, ", ")}});
  }
  for (int i = 0; i < p.targets_size(); ++i) {
    const v1::Target& t = p.targets(i);
    std::string text = absl::StrCat(TargetTypeName(t.type()), " ", t.address());
    if (t.type() != v1::TARGET_TYPE_SLACK) absl::StrAppend(&text, " ", FormatName(t.payload_format()));
    if (t.has_auth_header()) absl::StrAppend(&text, " +auth");
    if (t.has_signing_secret()) absl::StrAppend(&text, " +signed");
    if (t.skip_cert_verify()) absl::StrAppend(&text, " skip-cert-verify");
    rows.push_back({absl::StrCat("target ", i), {text}});
  }
  out.KeyValues(rows);
}

const std::vector<FlagSpec>& PolicyFieldFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"name", Kind::kString, "NAME", "policy name, unique in the project"},
      {"description", Kind::kString, "TEXT", "free text"},
      {"event-type", Kind::kList, "TYPE",
       "event type to deliver, e.g. PUSH_ARTIFACT (see policies event-types)"},
      {"target", Kind::kList, "URL", "endpoint URL (one target per URL)"},
      {"target-type", Kind::kString, "TYPE",
       "http or slack, for every --target (default http)"},
      {"format", Kind::kString, "FORMAT",
       "payload format of http targets: default or cloudevents"},
      {"auth-header", Kind::kString, "VALUE",
       "Authorization header sent to the targets, e.g. \"Bearer abc\""},
      {"signing-secret", Kind::kString, "whsec_...",
       "Standard Webhooks signing secret of the targets"},
      {"header", Kind::kList, "NAME=VALUE", "extra header sent to the targets"},
      {"skip-cert-verify", Kind::kBool, "", "do not verify target certificates"},
      {"repo-pattern", Kind::kList, "GLOB", "only repositories matching, e.g. library/**"},
      {"tag-pattern", Kind::kList, "GLOB", "only tags matching, e.g. v*"},
      {"max-attempts", Kind::kInt, "N", "attempts per delivery (1..100)"},
      {"backoff", Kind::kString, "KIND", "harbor or exponential"},
      {"http-timeout", Kind::kDuration, "DURATION", "whole-request timeout"},
      {"file", Kind::kString, "FILE",
       "read the policy as proto JSON from FILE (\"-\": stdin) instead of flags"},
  };
  return *flags;
}

absl::StatusOr<v1::TargetType> ParseTargetType(const std::string& text) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t.empty() || t == "http" || t == "webhook") return v1::TARGET_TYPE_HTTP;
  if (t == "slack") return v1::TARGET_TYPE_SLACK;
  return absl::InvalidArgumentError("--target-type must be http or slack");
}

absl::StatusOr<v1::PayloadFormat> ParseFormat(const std::string& text) {
  const std::string f = absl::AsciiStrToLower(text);
  if (f == "default") return v1::PAYLOAD_FORMAT_DEFAULT;
  if (f == "cloudevents") return v1::PAYLOAD_FORMAT_CLOUDEVENTS;
  return absl::InvalidArgumentError("--format must be default or cloudevents");
}

// Applies the field flags to `p`; returns the update_mask paths touched.
absl::StatusOr<std::vector<std::string>> ApplyPolicyFlags(const Flags& flags,
                                                          v1::Policy& p) {
  std::vector<std::string> mask;
  if (flags.Has("name")) {
    p.set_name(flags.String("name"));
    mask.push_back("name");
  }
  if (flags.Has("description")) {
    p.set_description(flags.String("description"));
    mask.push_back("description");
  }
  if (flags.Has("event-type")) {
    p.clear_event_types();
    for (const std::string& t : flags.List("event-type")) {
      p.add_event_types(absl::AsciiStrToUpper(t));
    }
    mask.push_back("event_types");
  }
  const bool target_flags =
      flags.Has("target") || flags.Has("target-type") || flags.Has("format") ||
      flags.Has("auth-header") || flags.Has("signing-secret") ||
      flags.Has("header") || flags.Has("skip-cert-verify");
  if (target_flags) {
    if (!flags.Has("target")) {
      return absl::InvalidArgumentError(
          "target options need --target (the targets are replaced as a whole)");
    }
    absl::StatusOr<v1::TargetType> type = ParseTargetType(flags.String("target-type"));
    if (!type.ok()) return type.status();
    p.clear_targets();
    for (const std::string& url : flags.List("target")) {
      v1::Target* t = p.add_targets();
      t->set_type(*type);
      t->set_address(url);
      if (flags.Has("format")) {
        absl::StatusOr<v1::PayloadFormat> f = ParseFormat(flags.String("format"));
        if (!f.ok()) return f.status();
        t->set_payload_format(*f);
      }
      t->set_auth_header(flags.String("auth-header"));
      t->set_signing_secret(flags.String("signing-secret"));
      t->set_skip_cert_verify(flags.Bool("skip-cert-verify"));
      for (const std::string& h : flags.List("header")) {
        std::pair<std::string, std::string> kv = absl::StrSplit(h, absl::MaxSplits('=', 1));
        if (kv.first.empty() || h.find('=') == std::string::npos) {
          return absl::InvalidArgumentError("--header must be NAME=VALUE");
        }
        v1::Header* header = t->add_headers();
        header->set_name(kv.first);
        header->set_value(kv.second);
      }
    }
    mask.push_back("targets");
  }
  if (flags.Has("repo-pattern") || flags.Has("tag-pattern")) {
    v1::Filters* f = p.mutable_filters();
    if (flags.Has("repo-pattern")) {
      f->clear_repository_patterns();
      for (const std::string& s : flags.List("repo-pattern")) f->add_repository_patterns(s);
    }
    if (flags.Has("tag-pattern")) {
      f->clear_tag_patterns();
      for (const std::string& s : flags.List("tag-pattern")) f->add_tag_patterns(s);
    }
    mask.push_back("filters");
  }
  if (flags.Has("max-attempts") || flags.Has("backoff") || flags.Has("http-timeout")) {
    v1::RetryPolicy* r = p.mutable_retry_policy();
    if (flags.Has("max-attempts")) {
      r->set_max_attempts(static_cast<int32_t>(flags.Int("max-attempts")));
    }
    if (flags.Has("backoff")) {
      const std::string b = absl::AsciiStrToLower(flags.String("backoff"));
      if (b == "harbor") {
        r->set_backoff(v1::BACKOFF_KIND_HARBOR);
      } else if (b == "exponential") {
        r->set_backoff(v1::BACKOFF_KIND_EXPONENTIAL);
      } else {
        return absl::InvalidArgumentError("--backoff must be harbor or exponential");
      }
    }
    if (flags.Has("http-timeout")) {
      const absl::Duration d = flags.Duration("http-timeout");
      r->mutable_http_timeout()->set_seconds(absl::ToInt64Seconds(d));
    }
    mask.push_back("retry_policy");
  }
  return mask;
}

}  // namespace

// Parses proto JSON into `message` (field names in either spelling).
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a ", message->GetDescriptor()->name(), " in proto JSON: ",
        std::string(status.message().data(), status.message().size())));
  }
  return absl::OkStatus();
}

namespace {

// A policy from --file: a Policy or a CreatePolicyRequest.
absl::StatusOr<v1::CreatePolicyRequest> ReadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return text.status();
  v1::CreatePolicyRequest request;
  if (absl::StrContains(*text, "\"policy\"") &&
      ParseJson(*text, &request).ok()) {
    return request;
  }
  absl::Status parsed = ParseJson(*text, request.mutable_policy());
  if (!parsed.ok()) return parsed;
  return request;
}

int Create(Context& ctx) {
  v1::CreatePolicyRequest request;
  if (ctx.flags.Has("file")) {
    absl::StatusOr<v1::CreatePolicyRequest> r = ReadPolicyFile(ctx.flags.String("file"));
    if (!r.ok()) return ctx.Usage(std::string(r.status().message()));
    request = *std::move(r);
  } else {
    if (!ctx.flags.Has("project")) return ctx.Usage("--project is required (or --file)");
    if (!ctx.flags.Has("name")) return ctx.Usage("--name is required (or --file)");
    if (!ctx.flags.Has("target")) return ctx.Usage("--target is required (or --file)");
    if (!ctx.flags.Has("event-type")) return ctx.Usage("--event-type is required (or --file)");
    v1::Policy* p = request.mutable_policy();
    p->set_project_id(ctx.flags.Int("project"));
    absl::StatusOr<std::vector<std::string>> applied = ApplyPolicyFlags(ctx.flags, *p);
    if (!applied.ok()) return ctx.Usage(std::string(applied.status().message()));
    if (ctx.flags.Bool("disabled")) p->set_enabled(false);
  }
  if (ctx.flags.Has("request-id")) request.set_request_id(ctx.flags.String("request-id"));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Policy> policy = client->CreatePolicy(request);
  if (!policy.ok()) return ctx.Fail(policy.status());
  PrintPolicy(*ctx.out, *policy);
  return kExitOk;
}

int Get(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "policy ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Policy> policy = client->GetPolicy(*id);
  if (!policy.ok()) return ctx.Fail(policy.status());
  PrintPolicy(*ctx.out, *policy);
  return kExitOk;
}

int List(Context& ctx) {
  v1::ListPoliciesRequest request;
  if (ctx.flags.Has("project")) request.set_project_id(ctx.flags.Int("project"));
  request.set_name_contains(ctx.flags.String("name-contains"));
  if (ctx.flags.Has("enabled")) request.set_enabled(ctx.flags.Bool("enabled"));
  request.set_event_type(absl::AsciiStrToUpper(ctx.flags.String("event-type")));
  request.set_page_size(static_cast<int32_t>(ctx.flags.Int("page-size", 100)));
  const int64_t limit = ctx.flags.Int("limit", 0);
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  v1::ListPoliciesResponse all;
  for (absl::StatusOr<v1::Policy>& p : client->ListPolicies(request)) {
    if (!p.ok()) return ctx.Fail(p.status());
    *all.add_policies() = *std::move(p);
    if (limit > 0 && all.policies_size() >= limit) break;
  }
  if (ctx.out->json()) {
    ctx.out->Json(all);
    return kExitOk;
  }
  Table table({"ID", "PROJECT", "NAME", "STATE", "EVENT TYPES", "TARGETS", "CREATED"});
  for (const v1::Policy& p : all.policies()) {
    std::vector<std::string> targets;
    for (const v1::Target& t : p.targets()) targets.push_back(t.address());
    table.AddRow({{absl::StrCat(p.id())},
                  {absl::StrCat(p.project_id())},
                  {p.name()},
                  {Enabled(p), StatusColor(Enabled(p))},
                  {absl::StrJoin(p.event_types(), ",")},
                  {absl::StrJoin(targets, " ")},
                  {FormatTime(p.create_time())}});
  }
  ctx.out->PrintTable(table);
  return kExitOk;
}

int Update(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "policy ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  v1::UpdatePolicyRequest request;
  if (ctx.flags.Has("file")) {
    absl::StatusOr<v1::CreatePolicyRequest> r = ReadPolicyFile(ctx.flags.String("file"));
    if (!r.ok()) return ctx.Usage(std::string(r.status().message()));
    *request.mutable_policy() = r->policy();
    for (const std::string& path : ctx.flags.List("mask")) {
      request.mutable_update_mask()->add_paths(path);
    }
  } else {
    absl::StatusOr<std::vector<std::string>> mask =
        ApplyPolicyFlags(ctx.flags, *request.mutable_policy());
    if (!mask.ok()) return ctx.Usage(std::string(mask.status().message()));
    if (ctx.flags.Has("enabled")) {
      request.mutable_policy()->set_enabled(ctx.flags.Bool("enabled"));
      mask->push_back("enabled");
    }
    if (mask->empty()) return ctx.Usage("nothing to update: give at least one field flag");
    for (const std::string& path : *mask) request.mutable_update_mask()->add_paths(path);
  }
  request.mutable_policy()->set_id(*id);
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Policy> policy = client->UpdatePolicy(request);
  if (!policy.ok()) return ctx.Fail(policy.status());
  PrintPolicy(*ctx.out, *policy);
  return kExitOk;
}

int SetEnabled(Context& ctx, bool enabled) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "policy ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Policy> policy =
      enabled ? client->EnablePolicy(*id) : client->DisablePolicy(*id);
  if (!policy.ok()) return ctx.Fail(policy.status());
  if (ctx.out->json()) {
    ctx.out->Json(*policy);
  } else {
    ctx.out->Line(absl::StrCat("policy ", *id, " ", Enabled(*policy)));
  }
  return kExitOk;
}

int Delete(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "policy ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::Status status = client->DeletePolicy(*id);
  if (!status.ok()) return ctx.Fail(status);
  if (ctx.out->json()) {
    ctx.out->Json(v1::DeletePolicyResponse());
  } else {
    ctx.out->Line(absl::StrCat("deleted policy ", *id));
  }
  return kExitOk;
}

int EventTypes(Context& ctx) {
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::ListEventTypesResponse> types = client->ListEventTypes();
  if (!types.ok()) return ctx.Fail(types.status());
  if (ctx.out->json()) {
    ctx.out->Json(*types);
    return kExitOk;
  }
  Table table({"EVENT TYPE", "CLOUDEVENTS TYPE"});
  for (const v1::EventTypeInfo& t : types->event_types()) {
    table.AddRow({{t.event_type()}, {t.cloudevents_type()}});
  }
  ctx.out->PrintTable(table);
  std::vector<std::string> formats;
  for (const v1::TargetPayloadFormats& f : types->payload_formats()) {
    std::vector<std::string> names;
    for (int fmt : f.formats()) names.push_back(FormatName(static_cast<v1::PayloadFormat>(fmt)));
    formats.push_back(absl::StrCat(TargetTypeName(f.target_type()), ": ",
                                   names.empty() ? "fixed" : absl::StrJoin(names, ", ")));
  }
  ctx.out->Line(absl::StrCat("\ntarget formats: ", absl::StrJoin(formats, "; ")));
  return kExitOk;
}

}  // namespace

void RegisterPolicyCommands() {
  std::vector<FlagSpec> create_flags = PolicyFieldFlags();
  create_flags.push_back({"project", Kind::kInt, "ID",
                          "the project (0: system-wide, system admins only)"});
  create_flags.push_back({"disabled", Kind::kBool, "", "create it disabled"});
  create_flags.push_back({"request-id", Kind::kString, "KEY",
                          "idempotency key: a retry with it creates nothing new"});
  std::vector<FlagSpec> update_flags = PolicyFieldFlags();
  update_flags.push_back({"enabled", Kind::kBool, "", "enable (true) or disable (false)"});
  update_flags.push_back({"mask", Kind::kList, "FIELD",
                          "with --file: the fields to replace (default: every field set)"});

  auto& r = Registry();
  r.push_back({{"policies", "create"},
               "",
               "Create a webhook policy",
               "From flags (one target per --target, all alike) or from a proto JSON\n"
               "file holding a herald.v1.Policy or a CreatePolicyRequest.",
               "heraldctl policies create --project 1 --name ci-notify \\\n"
               "    --event-type PUSH_ARTIFACT --target https://ci.example.com/hook \\\n"
               "    --format cloudevents --signing-secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
               "heraldctl policies create --file policy.json --request-id create-ci-1",
               create_flags,
               Create});
  r.push_back({{"policies", "get"}, "ID", "Show a policy", "",
               "heraldctl policies get 7\nheraldctl --json policies get 7 | jq .targets",
               {},
               Get});
  r.push_back({{"policies", "list"},
               "",
               "List policies, newest first",
               "Pages are fetched as needed; --limit stops early.",
               "heraldctl policies list --project 1 --enabled=true --event-type PUSH_ARTIFACT",
               {{"project", Kind::kInt, "ID", "only this project (0: system-wide)"},
                {"name-contains", Kind::kString, "TEXT", "only names containing TEXT"},
                {"enabled", Kind::kBool, "", "only enabled (true) or disabled (false)"},
                {"event-type", Kind::kString, "TYPE", "only policies listing TYPE"},
                {"limit", Kind::kInt, "N", "at most N policies (default: all)"},
                {"page-size", Kind::kInt, "N", "policies per request (default 100)"}},
               List});
  r.push_back({{"policies", "update"},
               "ID",
               "Change fields of a policy",
               "Only the fields given are replaced (the update mask is built from the\n"
               "flags). --target replaces all targets; stored secrets of replaced\n"
               "targets are dropped unless given again.",
               "heraldctl policies update 7 --event-type PUSH_ARTIFACT,DELETE_ARTIFACT\n"
               "heraldctl policies update 7 --file policy.json --mask description",
               update_flags,
               Update});
  r.push_back({{"policies", "delete"}, "ID",
               "Delete a policy with its executions, tasks and logs", "",
               "heraldctl policies delete 7", {}, Delete});
  r.push_back({{"policies", "enable"}, "ID", "Enable a policy", "",
               "heraldctl policies enable 7", {},
               [](Context& ctx) { return SetEnabled(ctx, true); }});
  r.push_back({{"policies", "disable"}, "ID",
               "Disable a policy (accepted deliveries still finish)", "",
               "heraldctl policies disable 7", {},
               [](Context& ctx) { return SetEnabled(ctx, false); }});
  r.push_back({{"policies", "event-types"}, "",
               "List the supported event types and target formats", "",
               "heraldctl policies event-types", {}, EventTypes});
}

}  // namespace herald::ctl
