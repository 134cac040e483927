// heraldctl watch: follow deliveries live (WatchTasks through the client's
// reconnecting watch helper). On a terminal: a live view redrawn four
// times a second; otherwise (or with --lines) one line per update; with
// --json one TaskUpdate per line.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/errors.h"
#include "client/heraldctl/cli.h"

namespace herald::ctl {
namespace {

using Kind = FlagSpec::Kind;

constexpr absl::Duration kRateWindow = absl::Seconds(10);
const char* const kStatusOrder[] = {"PENDING", "RUNNING", "SUCCESS", "RETRYING",
                                    "ERROR", "STOPPED"};

std::string Clock(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "--:--:--";
  return absl::FormatTime("%H:%M:%S", absl::FromUnixSeconds(t.seconds()),
                          absl::LocalTimeZone());
}

std::string UpdateLine(const v1::TaskUpdate& u, bool color) {
  const v1::Task& t = u.task();
  const v1::ExecutionSummary& e = u.execution();
  const std::string status = TaskStatusLabel(t);
  std::string line = absl::StrCat(
      FormatTime(t.update_time()), " task=", t.id(), " execution=", e.execution_id(),
      " policy=", e.policy_id(), " project=", e.project_id(), " type=", e.event_type(),
      " status=", Paint(status, StatusColor(status), color), " attempt=", t.run_count(),
      "/", t.max_attempts());
  if (t.last_response_code() != 0) absl::StrAppend(&line, " code=", t.last_response_code());
  absl::StrAppend(&line, " target=", e.target_address());
  if (t.next_attempt_time().seconds() != 0) {
    absl::StrAppend(&line, " next=", FormatTime(t.next_attempt_time()));
  }
  // status_message keeps the last error while a retry runs: show it only
  // for a failed attempt.
  if (t.status() == v1::TASK_STATUS_ERROR && !t.status_message().empty()) {
    absl::StrAppend(&line, " error=\"", t.status_message(), "\"");
  }
  if (u.snapshot()) absl::StrAppend(&line, " snapshot");
  return line;
}

// What the live view shows; written by the reading thread, drawn by the
// drawing thread.
class LiveView {
 public:
  LiveView(std::string address, std::string filters)
      : address_(std::move(address)), filters_(std::move(filters)) {}

  void Add(const v1::TaskUpdate& u) {
    absl::MutexLock lock(&mu_);
    ++updates_;
    const std::string status = TaskStatusLabel(u.task());
    status_by_task_[u.task().id()] = status;
    if (status == "SUCCESS" && !u.snapshot()) {
      ++delivered_;
      successes_.push_back(absl::Now());
    }
    recent_.push_front(u);
    while (recent_.size() > 200) recent_.pop_back();
    connection_ = "watching";
  }

  void SetConnection(std::string text) {
    absl::MutexLock lock(&mu_);
    connection_ = std::move(text);
  }

  int64_t updates() const {
    absl::MutexLock lock(&mu_);
    return updates_;
  }

  // The whole screen, each line cleared to its end.
  std::string Frame(bool color) {
    int rows = 24, cols = 100;
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
      rows = ws.ws_row;
      cols = ws.ws_col;
    }
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    while (!successes_.empty() && successes_.front() < now - kRateWindow) {
      successes_.pop_front();
    }
    const double window =
        std::min(absl::ToDoubleSeconds(kRateWindow), absl::ToDoubleSeconds(now - start_));
    const double rate = window > 0 ? successes_.size() / window : 0;
    std::map<std::string, int64_t> counts;
    for (const auto& [task, status] : status_by_task_) ++counts[status];

    std::vector<std::string> lines;
    lines.push_back(absl::StrCat(Paint("herald watch", Color::kBold, color), "  ", address_,
                                 filters_.empty() ? "" : "  " + filters_, "  [",
                                 connection_, "]"));
    std::vector<std::string> parts;
    for (const char* s : kStatusOrder) {
      parts.push_back(absl::StrCat(Paint(s, StatusColor(s), color), " ", counts[s]));
    }
    lines.push_back(absl::StrJoin(parts, "   "));
    lines.push_back(absl::StrFormat(
        "rate %.1f deliveries/s (last %ds)   delivered %d   updates %d   tasks %d",
        rate, static_cast<int>(window), delivered_, updates_, status_by_task_.size()));
    lines.push_back("");
    Table table({"TIME", "TASK", "EXEC", "POLICY", "EVENT TYPE", "STATUS", "TRY", "CODE",
                 "TARGET / ERROR"});
    const size_t room = rows > 6 ? static_cast<size_t>(rows - 6) : 1;
    for (size_t i = 0; i < recent_.size() && i < room; ++i) {
      const v1::TaskUpdate& u = recent_[i];
      const std::string status = TaskStatusLabel(u.task());
      table.AddRow({{Clock(u.task().update_time())},
                    {absl::StrCat(u.task().id())},
                    {absl::StrCat(u.execution().execution_id())},
                    {absl::StrCat(u.execution().policy_id())},
                    {u.execution().event_type()},
                    {status, StatusColor(status)},
                    {absl::StrCat(u.task().run_count(), "/", u.task().max_attempts())},
                    {u.task().last_response_code() ? absl::StrCat(u.task().last_response_code())
                                                   : "-"},
                    {u.task().status() == v1::TASK_STATUS_ERROR &&
                             !u.task().status_message().empty()
                         ? u.task().status_message()
                         : u.execution().target_address()}});
    }
    std::string frame = "\x1b[H";
    for (const std::string& l : lines) absl::StrAppend(&frame, Truncate(l, cols), "\x1b[K\n");
    for (absl::string_view l : absl::StrSplit(table.Render(color), '\n')) {
      if (l.empty()) continue;
      absl::StrAppend(&frame, Truncate(std::string(l), cols), "\x1b[K\n");
    }
    absl::StrAppend(&frame, "\x1b[J");
    return frame;
  }

  std::string Summary() const {
    absl::MutexLock lock(&mu_);
    return absl::StrCat("watched ", updates_, " updates of ", status_by_task_.size(),
                        " tasks; ", delivered_, " delivered");
  }

 private:
  // Cuts a line at `cols` display columns (escape sequences kept intact;
  // a colour reset is appended when cut).
  static std::string Truncate(const std::string& line, int cols) {
    if (static_cast<int>(DisplayWidth(line)) <= cols) return line;
    std::string out;
    int width = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c == 0x1b) {
        const size_t end = line.find('m', i);
        out.append(line, i, end == std::string::npos ? std::string::npos : end - i + 1);
        if (end == std::string::npos) break;
        i = end;
        continue;
      }
      if ((c & 0xC0) != 0x80 && ++width > cols) break;
      out.push_back(line[i]);
    }
    return out + "\x1b[0m";
  }

  const std::string address_;
  const std::string filters_;
  const absl::Time start_ = absl::Now();
  mutable absl::Mutex mu_;
  std::map<int64_t, std::string> status_by_task_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::TaskUpdate> recent_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Time> successes_ ABSL_GUARDED_BY(mu_);
  int64_t updates_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  std::string connection_ ABSL_GUARDED_BY(mu_) = "connecting";
};

int Watch(Context& ctx) {
  v1::WatchTasksRequest request;
  std::vector<std::string> filters;
  if (ctx.flags.Has("project")) {
    request.set_project_id(ctx.flags.Int("project"));
    filters.push_back(absl::StrCat("project=", request.project_id()));
  }
  if (ctx.flags.Has("policy")) {
    request.set_policy_id(ctx.flags.Int("policy"));
    filters.push_back(absl::StrCat("policy=", request.policy_id()));
  }
  if (ctx.flags.Has("execution")) {
    request.set_execution_id(ctx.flags.Int("execution"));
    filters.push_back(absl::StrCat("execution=", request.execution_id()));
  }
  for (const std::string& t : ctx.flags.List("event-type")) {
    request.add_event_types(absl::AsciiStrToUpper(t));
  }
  if (request.event_types_size() > 0) {
    filters.push_back(absl::StrCat("types=", absl::StrJoin(request.event_types(), ",")));
  }
  for (const std::string& s : ctx.flags.List("status")) {
    absl::StatusOr<v1::TaskStatus> status = ParseTaskStatus(s);
    if (!status.ok()) return ctx.Usage(std::string(status.status().message()));
    request.add_statuses(*status);
  }
  if (request.statuses_size() > 0) {
    filters.push_back(absl::StrCat("statuses=", absl::StrJoin(ctx.flags.List("status"), ",")));
  }
  if (ctx.flags.Bool("snapshot")) request.set_start(v1::WATCH_START_SNAPSHOT);
  if (ctx.flags.Has("cursor")) request.set_cursor(ctx.flags.String("cursor"));
  const int64_t max_updates = ctx.flags.Int("count", 0);
  const absl::Duration max_time = ctx.flags.Duration("for", absl::InfiniteDuration());

  const bool json = ctx.out->json();
  const bool live = !json && !ctx.flags.Bool("lines") && Output::StdoutIsTerminal();
  LiveView view(ctx.address, absl::StrJoin(filters, " "));

  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  WatchOptions options;
  options.on_reconnect = [&](const absl::Status& why, absl::Duration delay) {
    const std::string text =
        absl::StrCat("reconnecting in ", absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))),
                     ": ", absl::StatusCodeToString(why.code()));
    if (live) {
      view.SetConnection(text);
    } else {
      std::cerr << "heraldctl: stream interrupted (" << why.message() << "); "
                << text << std::endl;
    }
  };
  StreamRange<v1::TaskUpdate> updates = client->WatchTasks(request, options);

  SignalWatcher signals([&] { updates.Cancel(); });
  absl::Notification finished;
  std::thread timer;
  if (max_time != absl::InfiniteDuration()) {
    timer = std::thread([&] {
      if (!finished.WaitForNotificationWithTimeout(max_time)) updates.Cancel();
    });
  }
  std::thread drawer;
  if (live) {
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;  // alternate screen, no cursor
    drawer = std::thread([&] {
      do {
        std::cout << view.Frame(ctx.out->color()) << std::flush;
      } while (!finished.WaitForNotificationWithTimeout(absl::Milliseconds(250)));
    });
  }

  absl::Status result;
  int64_t seen = 0;
  for (absl::StatusOr<v1::TaskUpdate>& u : updates) {
    if (!u.ok()) {
      result = u.status();
      break;
    }
    ++seen;
    if (live) {
      view.Add(*u);
    } else if (json) {
      ctx.out->JsonLine(*u);
    } else {
      view.Add(*u);
      std::cout << UpdateLine(*u, ctx.out->color()) << std::endl;
    }
    if (max_updates > 0 && seen >= max_updates) break;
  }
  finished.Notify();
  if (drawer.joinable()) drawer.join();
  if (timer.joinable()) timer.join();
  if (live) {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    std::cerr << "heraldctl: " << view.Summary() << std::endl;
  }
  if (!result.ok()) return ctx.Fail(result);
  return kExitOk;
}

}  // namespace

void RegisterWatchCommand() {
  Registry().push_back(
      {{"watch"},
       "",
       "Follow deliveries live",
       "Streams every task change (WatchTasks). On a terminal it shows a live\n"
       "view: counters per status, the delivery rate and the latest updates;\n"
       "otherwise (or with --lines) it prints one line per update, and with\n"
       "--json one herald.v1.TaskUpdate per line. When heraldd restarts or the\n"
       "connection drops, it reconnects and resumes from the last update's\n"
       "cursor: nothing is missed and nothing is shown twice. Ctrl-C stops.",
       "heraldctl watch --project 1\n"
       "heraldctl watch --policy 7 --status error --lines\n"
       "heraldctl --json watch --snapshot --count 100 > updates.jsonl",
       {{"project", Kind::kInt, "ID", "only this project's tasks"},
        {"policy", Kind::kInt, "ID", "only this policy's tasks"},
        {"execution", Kind::kInt, "ID", "only this execution's task"},
        {"event-type", Kind::kList, "TYPE", "only these event types"},
        {"status", Kind::kList, "STATUS",
         "only updates leaving a task pending, running, success, error or stopped"},
        {"snapshot", Kind::kBool, "",
         "start with the current state of every unfinished task"},
        {"cursor", Kind::kString, "CURSOR", "resume after this cursor"},
        {"count", Kind::kInt, "N", "stop after N updates"},
        {"for", Kind::kDuration, "DURATION", "stop after this long"},
        {"lines", Kind::kBool, "", "line output even on a terminal"}},
       Watch});
}

}  // namespace herald::ctl
