// heraldctl settings get|set, tokens create|list|revoke, health, info
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/heraldctl/cli.h"
#include "google/protobuf/util/time_util.h"

namespace herald::ctl {
namespace {

using Kind = FlagSpec::Kind;

std::string RoleName(v1::Role role) {
  std::string name = v1::Role_Name(role);
  name = absl::StartsWith(name, "ROLE_") ? name.substr(5) : name;
  std::string out = absl::AsciiStrToLower(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

absl::StatusOr<v1::Role> ParseRole(const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  std::replace(upper.begin(), upper.end(), '-', '_');
  if (!absl::StartsWith(upper, "ROLE_")) upper = "ROLE_" + upper;
  v1::Role role;
  if (!v1::Role_Parse(upper, &role) || role == v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--role must be system-admin, project-admin, maintainer or publisher");
  }
  return role;
}

void PrintSettings(Output& out, const v1::Settings& s) {
  if (out.json()) {
    out.Json(s);
    return;
  }
  const bool enabled = !s.has_notification_enable() || s.notification_enable();
  out.KeyValues({
      {"notification_enable", {enabled ? "true" : "false", enabled ? Color::kGreen : Color::kRed}},
      {"webhook_job_max_retry", {absl::StrCat(s.webhook_job_max_retry())}},
      {"webhook_job_http_client_timeout", {FormatDuration(s.webhook_job_http_client_timeout())}},
      {"execution_retention_count", {absl::StrCat(s.execution_retention_count())}},
  });
}

int SettingsGet(Context& ctx) {
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Settings> s = client->GetSettings();
  if (!s.ok()) return ctx.Fail(s.status());
  PrintSettings(*ctx.out, *s);
  return kExitOk;
}

int SettingsSet(Context& ctx) {
  v1::Settings settings;
  google::protobuf::FieldMask mask;
  if (ctx.flags.Has("notification-enable")) {
    settings.set_notification_enable(ctx.flags.Bool("notification-enable"));
    mask.add_paths("notification_enable");
  }
  if (ctx.flags.Has("max-retry")) {
    settings.set_webhook_job_max_retry(static_cast<int32_t>(ctx.flags.Int("max-retry")));
    mask.add_paths("webhook_job_max_retry");
  }
  if (ctx.flags.Has("http-timeout")) {
    const absl::Duration d = ctx.flags.Duration("http-timeout");
    settings.mutable_webhook_job_http_client_timeout()->set_seconds(
        absl::ToInt64Seconds(d));
    settings.mutable_webhook_job_http_client_timeout()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(d - absl::Seconds(absl::ToInt64Seconds(d)))));
    mask.add_paths("webhook_job_http_client_timeout");
  }
  if (ctx.flags.Has("retention-count")) {
    settings.set_execution_retention_count(
        static_cast<int32_t>(ctx.flags.Int("retention-count")));
    mask.add_paths("execution_retention_count");
  }
  if (mask.paths_size() == 0) return ctx.Usage("nothing to set: give at least one setting flag");
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Settings> s = client->UpdateSettings(settings, mask);
  if (!s.ok()) return ctx.Fail(s.status());
  PrintSettings(*ctx.out, *s);
  return kExitOk;
}

void PrintToken(Output& out, const v1::Token& t) {
  out.KeyValues({
      {"id", {absl::StrCat(t.id())}},
      {"name", {t.name()}},
      {"role", {RoleName(t.role())}},
      {"projects", {t.project_ids().empty() ? "-" : absl::StrJoin(t.project_ids(), ",")}},
      {"creator", {t.creator()}},
      {"created", {FormatTime(t.create_time())}},
      {"expires", {t.has_expire_time() ? FormatTime(t.expire_time()) : "never"}},
  });
}

int TokensCreate(Context& ctx) {
  if (!ctx.flags.Has("name")) return ctx.Usage("--name is required");
  if (!ctx.flags.Has("role")) return ctx.Usage("--role is required");
  absl::StatusOr<v1::Role> role = ParseRole(ctx.flags.String("role"));
  if (!role.ok()) return ctx.Usage(std::string(role.status().message()));
  v1::Token token;
  token.set_name(ctx.flags.String("name"));
  token.set_role(*role);
  for (const std::string& p : ctx.flags.List("project")) {
    absl::StatusOr<int64_t> id = ParseId(p, "--project");
    if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
    token.add_project_ids(*id);
  }
  if (ctx.flags.Has("expires-in")) {
    *token.mutable_expire_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(absl::Now() + ctx.flags.Duration("expires-in")));
  }
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::CreateTokenResponse> created = client->CreateToken(token);
  if (!created.ok()) return ctx.Fail(created.status());
  if (ctx.out->json()) {
    ctx.out->Json(*created);
    return kExitOk;
  }
  PrintToken(*ctx.out, created->token());
  ctx.out->KeyValues({{"secret", {created->secret(), Color::kBold}}});
  ctx.out->Error("heraldctl: the secret is shown only this once; store it now");
  return kExitOk;
}

int TokensList(Context& ctx) {
  v1::ListTokensRequest request;
  request.set_show_revoked(ctx.flags.Bool("revoked"));
  request.set_page_size(100);
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  v1::ListTokensResponse all;
  for (absl::StatusOr<v1::Token>& t : client->ListTokens(request)) {
    if (!t.ok()) return ctx.Fail(t.status());
    *all.add_tokens() = *std::move(t);
  }
  if (ctx.out->json()) {
    ctx.out->Json(all);
    return kExitOk;
  }
  Table table({"ID", "NAME", "ROLE", "PROJECTS", "CREATOR", "CREATED", "EXPIRES", "STATE"});
  for (const v1::Token& t : all.tokens()) {
    const std::string state = t.revoked() ? "revoked" : "active";
    table.AddRow({{absl::StrCat(t.id())},
                  {t.name()},
                  {RoleName(t.role())},
                  {t.project_ids().empty() ? "-" : absl::StrJoin(t.project_ids(), ",")},
                  {t.creator()},
                  {FormatTime(t.create_time())},
                  {t.has_expire_time() ? FormatTime(t.expire_time()) : "never"},
                  {state, StatusColor(state)}});
  }
  ctx.out->PrintTable(table);
  return kExitOk;
}

int TokensRevoke(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "token ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::Status status = client->RevokeToken(*id);
  if (!status.ok()) return ctx.Fail(status);
  if (ctx.out->json()) {
    ctx.out->Json(v1::RevokeTokenResponse());
  } else {
    ctx.out->Line(absl::StrCat("revoked token ", *id));
  }
  return kExitOk;
}

int Health(Context& ctx) {
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  const std::string service = ctx.flags.String("service");
  absl::StatusOr<ServingStatus> status = client->CheckHealth(service);
  if (!status.ok()) return ctx.Fail(status.status());
  const std::string name = ServingStatusName(*status);
  if (ctx.out->json()) {
    ctx.out->Line(absl::StrCat("{\"status\": \"", name, "\"}"));
  } else {
    ctx.out->Line(Paint(name, StatusColor(name), ctx.out->color()));
  }
  return *status == ServingStatus::kServing ? kExitOk : kExitUnavailable;
}

int Info(Context& ctx) {
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::GetServerInfoResponse> info = client->GetServerInfo();
  if (!info.ok()) return ctx.Fail(info.status());
  if (ctx.out->json()) {
    ctx.out->Json(*info);
    return kExitOk;
  }
  const v1::Token& me = info->caller();
  ctx.out->KeyValues({
      {"address", {ctx.address}},
      {"version", {info->version()}},
      {"store", {info->store_kind()}},
      {"started", {FormatTime(info->start_time())}},
      {"registry endpoint", {info->registry_endpoint()}},
      {"caller", {absl::StrCat(me.name(), " (", RoleName(me.role()),
                               me.project_ids().empty()
                                   ? ""
                                   : ", projects " + absl::StrJoin(me.project_ids(), ","),
                               ")")}},
  });
  return kExitOk;
}

}  // namespace

void RegisterAdminCommands() {
  auto& r = Registry();
  r.push_back({{"settings", "get"}, "", "Show the delivery settings", "",
               "heraldctl settings get", {}, SettingsGet});
  r.push_back({{"settings", "set"},
               "",
               "Change delivery settings (system admins)",
               "Only the settings given change. They apply to deliveries created\n"
               "afterwards and persist across restarts.",
               "heraldctl settings set --max-retry 5 --http-timeout 10s\n"
               "heraldctl settings set --notification-enable=false",
               {{"notification-enable", Kind::kBool, "",
                 "create deliveries for published events (Harbor's notification_enable)"},
                {"max-retry", Kind::kInt, "N", "attempts per delivery, 1..100"},
                {"http-timeout", Kind::kDuration, "DURATION", "request timeout, 1s..300s"},
                {"retention-count", Kind::kInt, "N",
                 "finished executions kept per policy and vendor type"}},
               SettingsSet});
  r.push_back({{"tokens", "create"},
               "",
               "Create an access token (the secret is printed once)",
               "",
               "heraldctl tokens create --name registry --role publisher --project 1\n"
               "heraldctl tokens create --name ops --role maintainer --project 1,2 --expires-in 720h",
               {{"name", Kind::kString, "NAME", "the token's name (required)"},
                {"role", Kind::kString, "ROLE",
                 "system-admin, project-admin, maintainer or publisher (required)"},
                {"project", Kind::kList, "ID", "a project the role applies to"},
                {"expires-in", Kind::kDuration, "DURATION", "stop working after this long"}},
               TokensCreate});
  r.push_back({{"tokens", "list"}, "", "List tokens (never their secrets)", "",
               "heraldctl tokens list --revoked",
               {{"revoked", Kind::kBool, "", "include revoked tokens"}}, TokensList});
  r.push_back({{"tokens", "revoke"}, "ID", "Revoke a token at once", "",
               "heraldctl tokens revoke 3", {}, TokensRevoke});
  r.push_back({{"health"},
               "",
               "Check heraldd's health (no token needed)",
               "Prints SERVING and exits 0, or exits 5 when not serving.",
               "heraldctl health\nheraldctl health --service herald.v1.EventService",
               {{"service", Kind::kString, "NAME", "one service, e.g. herald.v1.EventService"}},
               Health});
  r.push_back({{"info"}, "", "Show the server's version and who you are", "",
               "heraldctl info", {}, Info});
}

}  // namespace herald::ctl
