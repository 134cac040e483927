// heraldctl executions list|get, tasks list|get|log, redeliver, recover
#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/heraldctl/cli.h"
#include "google/protobuf/util/time_util.h"

namespace herald::ctl {

std::string TaskStatusName(v1::TaskStatus s) {
  std::string name = v1::TaskStatus_Name(s);
  return absl::StartsWith(name, "TASK_STATUS_") ? name.substr(12) : name;
}

absl::StatusOr<v1::TaskStatus> ParseTaskStatus(const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, "TASK_STATUS_")) upper = "TASK_STATUS_" + upper;
  v1::TaskStatus status;
  if (!v1::TaskStatus_Parse(upper, &status) || status == v1::TASK_STATUS_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown status \"", text, "\" (pending, running, success, error, stopped)"));
  }
  return status;
}

// The task's status as shown to people: ERROR with a retry scheduled is
// RETRYING.
std::string TaskStatusLabel(const v1::Task& t) {
  if (t.status() == v1::TASK_STATUS_ERROR && !t.final()) return "RETRYING";
  return TaskStatusName(t.status());
}

namespace {

using Kind = FlagSpec::Kind;

std::string VendorName(v1::VendorType v) {
  std::string name = v1::VendorType_Name(v);
  return absl::StartsWith(name, "VENDOR_TYPE_") ? name.substr(12) : name;
}

Table::Cell StatusCell(const std::string& status) {
  return {status, StatusColor(status)};
}

void PrintExecution(Output& out, const v1::Execution& e, bool payload) {
  if (out.json()) {
    out.Json(e);
    return;
  }
  const v1::TaskCounts& m = e.metrics();
  out.KeyValues({
      {"id", {absl::StrCat(e.id())}},
      {"policy", {absl::StrCat(e.policy_id())}},
      {"project", {absl::StrCat(e.project_id())}},
      {"event", {absl::StrCat(e.event_id())}},
      {"event type", {e.event_type()}},
      {"vendor", {VendorName(e.vendor_type())}},
      {"status", StatusCell(TaskStatusName(e.status()))},
      {"target", {absl::StrCat(e.target().address(), " (#", e.target_index(), ")")}},
      {"webhook id", {e.webhook_id()}},
      {"content type", {e.content_type()}},
      {"tasks", {absl::StrCat(m.task_count(), " (success ", m.success_task_count(),
                              ", error ", m.error_task_count(), ", pending ",
                              m.pending_task_count(), ", running ",
                              m.running_task_count(), ")")}},
      {"started", {FormatTime(e.start_time())}},
      {"ended", {FormatTime(e.end_time())}},
  });
  if (payload) out.Line(absl::StrCat("\n", e.payload()));
}

void PrintTask(Output& out, const v1::Task& t) {
  if (out.json()) {
    out.Json(t);
    return;
  }
  out.KeyValues({
      {"id", {absl::StrCat(t.id())}},
      {"execution", {absl::StrCat(t.execution_id())}},
      {"status", StatusCell(TaskStatusLabel(t))},
      {"attempts", {absl::StrCat(t.run_count(), "/", t.max_attempts())}},
      {"final", {t.final() ? "yes" : "no"}},
      {"last response", {t.last_response_code() ? absl::StrCat(t.last_response_code()) : "-"}},
      {"message", {t.status_message()}},
      {"next attempt", {FormatTime(t.next_attempt_time())}},
      {"created", {FormatTime(t.create_time())}},
      {"updated", {FormatTime(t.update_time())}},
      {"started", {FormatTime(t.start_time())}},
      {"ended", {FormatTime(t.end_time())}},
  });
}

Table TaskTable(const std::vector<v1::Task>& tasks) {
  Table table({"ID", "EXECUTION", "STATUS", "ATTEMPTS", "CODE", "NEXT ATTEMPT", "MESSAGE"});
  for (const v1::Task& t : tasks) {
    table.AddRow({{absl::StrCat(t.id())},
                  {absl::StrCat(t.execution_id())},
                  StatusCell(TaskStatusLabel(t)),
                  {absl::StrCat(t.run_count(), "/", t.max_attempts())},
                  {t.last_response_code() ? absl::StrCat(t.last_response_code()) : "-"},
                  {FormatTime(t.next_attempt_time())},
                  {t.status_message()}});
  }
  return table;
}

int ExecutionsList(Context& ctx) {
  if (!ctx.flags.Has("policy")) return ctx.Usage("--policy is required");
  v1::ListExecutionsRequest request;
  request.set_policy_id(ctx.flags.Int("policy"));
  if (ctx.flags.Has("status")) {
    absl::StatusOr<v1::TaskStatus> s = ParseTaskStatus(ctx.flags.String("status"));
    if (!s.ok()) return ctx.Usage(std::string(s.status().message()));
    request.set_status(*s);
  }
  request.set_event_type(absl::AsciiStrToUpper(ctx.flags.String("event-type")));
  request.set_page_size(static_cast<int32_t>(ctx.flags.Int("page-size", 100)));
  const int64_t limit = ctx.flags.Int("limit", 0);
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  v1::ListExecutionsResponse all;
  for (absl::StatusOr<v1::Execution>& e : client->ListExecutions(request)) {
    if (!e.ok()) return ctx.Fail(e.status());
    *all.add_executions() = *std::move(e);
    if (limit > 0 && all.executions_size() >= limit) break;
  }
  if (ctx.out->json()) {
    ctx.out->Json(all);
    return kExitOk;
  }
  Table table({"ID", "POLICY", "EVENT", "EVENT TYPE", "STATUS", "TARGET", "STARTED", "ENDED"});
  for (const v1::Execution& e : all.executions()) {
    table.AddRow({{absl::StrCat(e.id())},
                  {absl::StrCat(e.policy_id())},
                  {absl::StrCat(e.event_id())},
                  {e.event_type()},
                  StatusCell(TaskStatusName(e.status())),
                  {e.target().address()},
                  {FormatTime(e.start_time())},
                  {FormatTime(e.end_time())}});
  }
  ctx.out->PrintTable(table);
  return kExitOk;
}

int ExecutionsGet(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "execution ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Execution> e = client->GetExecution(*id);
  if (!e.ok()) return ctx.Fail(e.status());
  PrintExecution(*ctx.out, *e, ctx.flags.Bool("payload"));
  return kExitOk;
}

int TasksList(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "execution ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<std::vector<v1::Task>> tasks = client->ListTasks(*id);
  if (!tasks.ok()) return ctx.Fail(tasks.status());
  if (ctx.out->json()) {
    v1::ListTasksResponse response;
    for (const v1::Task& t : *tasks) *response.add_tasks() = t;
    ctx.out->Json(response);
    return kExitOk;
  }
  ctx.out->PrintTable(TaskTable(*tasks));
  return kExitOk;
}

int TasksGet(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "task ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  if (!ctx.flags.Has("execution")) {
    return ctx.Usage("--execution is required (tasks are read through their execution)");
  }
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<std::vector<v1::Task>> tasks =
      client->ListTasks(ctx.flags.Int("execution"));
  if (!tasks.ok()) return ctx.Fail(tasks.status());
  for (const v1::Task& t : *tasks) {
    if (t.id() == *id) {
      PrintTask(*ctx.out, t);
      return kExitOk;
    }
  }
  return ctx.Fail(absl::NotFoundError(absl::StrCat(
      "task ", *id, " is not a task of execution ", ctx.flags.Int("execution"))));
}

int TasksLog(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "task ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<std::string> log = client->GetTaskLog(*id);
  if (!log.ok()) return ctx.Fail(log.status());
  if (ctx.out->json()) {
    v1::GetTaskLogResponse response;
    response.set_log(*log);
    ctx.out->Json(response);
  } else {
    ctx.out->Print(*log);
  }
  return kExitOk;
}

int RedeliverTask(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "task ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Task> task = client->RedeliverTask(*id);
  if (!task.ok()) return ctx.Fail(task.status());
  PrintTask(*ctx.out, *task);
  return kExitOk;
}

int RedeliverExecution(Context& ctx) {
  absl::StatusOr<int64_t> id = ctx.IdArg(0, "execution ID");
  if (!id.ok()) return ctx.Usage(std::string(id.status().message()));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<v1::Execution> e = client->RedeliverExecution(*id);
  if (!e.ok()) return ctx.Fail(e.status());
  PrintExecution(*ctx.out, *e, false);
  return kExitOk;
}

int Recover(Context& ctx) {
  v1::RecoverFailedRequest request;
  if (ctx.flags.Has("policy") == ctx.flags.Has("project")) {
    return ctx.Usage("give exactly one of --policy or --project");
  }
  if (ctx.flags.Has("policy")) {
    request.set_policy_id(ctx.flags.Int("policy"));
  } else {
    request.set_project_id(ctx.flags.Int("project"));
  }
  absl::StatusOr<absl::Time> since =
      ParseTimeArg(ctx.flags.String("since", "24h"), "since");
  if (!since.ok()) return ctx.Usage(std::string(since.status().message()));
  *request.mutable_start_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(*since));
  if (ctx.flags.Has("until")) {
    absl::StatusOr<absl::Time> until = ParseTimeArg(ctx.flags.String("until"), "until");
    if (!until.ok()) return ctx.Usage(std::string(until.status().message()));
    *request.mutable_end_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(*until));
  }
  request.set_dry_run(ctx.flags.Bool("dry-run"));
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());

  StreamRange<v1::RecoverFailedResponse> progress = client->RecoverFailed(request);
  SignalWatcher signals([&] { progress.Cancel(); });
  const bool live = Output::StderrIsTerminal() && !ctx.out->json();
  v1::RecoverFailedResponse last;
  for (absl::StatusOr<v1::RecoverFailedResponse>& p : progress) {
    if (!p.ok()) {
      if (live) ctx.out->Error("");
      return ctx.Fail(p.status());
    }
    last = *p;
    if (ctx.out->json()) {
      ctx.out->JsonLine(last);
    } else if (live) {
      std::fprintf(stderr, "\r\x1b[2Kmatched %lld, redelivered %lld%s",
                   static_cast<long long>(last.matched()),
                   static_cast<long long>(last.redelivered()),
                   last.done() ? "" : " ...");
      std::fflush(stderr);
    }
  }
  if (live) ctx.out->Error("");
  if (!ctx.out->json()) {
    ctx.out->KeyValues(
        {{"failed tasks found", {absl::StrCat(last.matched())}},
         {request.dry_run() ? "would redeliver" : "redelivered",
          {absl::StrCat(request.dry_run() ? last.matched() : last.redelivered())}},
         {"complete", {last.done() ? "yes" : "no (interrupted)"}}});
  }
  return last.done() ? kExitOk : kExitError;
}

}  // namespace

void RegisterDeliveryCommands() {
  auto& r = Registry();
  r.push_back({{"executions", "list"},
               "",
               "List a policy's executions (one per event and target), newest first",
               "",
               "heraldctl executions list --policy 7 --status error",
               {{"policy", Kind::kInt, "ID", "the policy (required)"},
                {"status", Kind::kString, "STATUS",
                 "only pending, running, success, error or stopped"},
                {"event-type", Kind::kString, "TYPE", "only this event type"},
                {"limit", Kind::kInt, "N", "at most N executions (default: all)"},
                {"page-size", Kind::kInt, "N", "executions per request (default 100)"}},
               ExecutionsList});
  r.push_back({{"executions", "get"},
               "ID",
               "Show an execution (--payload: with the body exactly as sent)",
               "",
               "heraldctl executions get 42 --payload",
               {{"payload", Kind::kBool, "", "also print the rendered payload"}},
               ExecutionsGet});
  r.push_back({{"tasks", "list"}, "EXECUTION_ID", "List an execution's tasks", "",
               "heraldctl tasks list 42", {}, TasksList});
  r.push_back({{"tasks", "get"},
               "ID",
               "Show a task",
               "Tasks are read through their execution: pass it with --execution.",
               "heraldctl tasks get 42 --execution 42",
               {{"execution", Kind::kInt, "ID", "the task's execution (required)"}},
               TasksGet});
  r.push_back({{"tasks", "log"},
               "ID",
               "Print a task's log: one line per attempt",
               "",
               "heraldctl tasks log 42",
               {},
               TasksLog});
  r.push_back({{"redeliver", "task"},
               "ID",
               "Redeliver a final task (same payload, same webhook-id)",
               "",
               "heraldctl redeliver task 42",
               {},
               RedeliverTask});
  r.push_back({{"redeliver", "execution"},
               "ID",
               "Redeliver the task of an execution",
               "",
               "heraldctl redeliver execution 42",
               {},
               RedeliverExecution});
  r.push_back({{"recover"},
               "",
               "Redeliver every finally failed task of a policy or project",
               "Streams progress (on a terminal, a live counter on stderr; with\n"
               "--json, one progress message per line). --dry-run only counts.",
               "heraldctl recover --policy 7 --since 2h\n"
               "heraldctl recover --project 1 --since 2026-11-27T00:00:00Z --dry-run",
               {{"policy", Kind::kInt, "ID", "failures of this policy"},
                {"project", Kind::kInt, "ID", "failures of this project's policies"},
                {"since", Kind::kString, "TIME",
                 "executions started at or after TIME (RFC 3339) or this long ago "
                 "(default 24h)"},
                {"until", Kind::kString, "TIME", "executions started before TIME"},
                {"dry-run", Kind::kBool, "", "count, do not redeliver"}},
               Recover});
}

}  // namespace herald::ctl
