// heraldctl events publish
#include <atomic>
#include <random>

#include <google/protobuf/struct.pb.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/errors.h"
#include "client/heraldctl/cli.h"

namespace herald::ctl {
namespace {

using Kind = FlagSpec::Kind;

std::string RandomHex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(kHex[rng() % 16]);
  return out;
}

// An event from the flags.
absl::StatusOr<v1::Event> EventFromFlags(const Flags& flags) {
  v1::Event event;
  event.set_event_type(absl::AsciiStrToUpper(flags.String("type", "PUSH_ARTIFACT")));
  if (!flags.Has("project")) {
    return absl::InvalidArgumentError("--project is required (or --file)");
  }
  event.set_project_id(flags.Int("project"));
  event.set_operator_(flags.String("operator", "heraldctl"));
  const std::string repo = flags.String("repo", "library/hello-world");
  const size_t slash = repo.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == repo.size()) {
    return absl::InvalidArgumentError("--repo must be NAMESPACE/NAME, e.g. library/busybox");
  }
  event.mutable_repository()->set_namespace_(repo.substr(0, slash));
  event.mutable_repository()->set_name(repo.substr(slash + 1));
  const bool artifact = absl::EndsWith(event.event_type(), "_ARTIFACT") ||
                        absl::StartsWith(event.event_type(), "SCANNING_") ||
                        flags.Has("digest") || flags.Has("tag");
  if (artifact) {
    v1::Resource* r = event.add_resources();
    r->set_digest(flags.Has("digest") ? flags.String("digest")
                                      : absl::StrCat("sha256:", RandomHex(64)));
    r->set_tag(flags.String("tag"));
  }
  for (const std::string& kv : flags.List("attr")) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (kv.find('=') == std::string::npos || p.first.empty()) {
      return absl::InvalidArgumentError("--attr must be KEY=VALUE");
    }
    (*event.mutable_custom_attributes())[p.first] = p.second;
  }
  return event;
}

// Events from a proto JSON file: one object (a PublishEventRequest or an
// Event), or JSON Lines with one per line.
absl::StatusOr<std::vector<v1::PublishEventRequest>> EventsFromFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return text.status();
  auto parse_one = [](const std::string& json) -> absl::StatusOr<v1::PublishEventRequest> {
    v1::PublishEventRequest request;
    if (absl::StrContains(json, "\"event\"") && ParseJson(json, &request).ok()) {
      return request;
    }
    absl::Status parsed = ParseJson(json, request.mutable_event());
    if (!parsed.ok()) return parsed;
    return request;
  };
  std::vector<v1::PublishEventRequest> out;
  if (absl::StatusOr<v1::PublishEventRequest> one = parse_one(*text); one.ok()) {
    out.push_back(*std::move(one));
    return out;
  }
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    absl::StatusOr<v1::PublishEventRequest> r = parse_one(std::string(line));
    if (!r.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": ", r.status().message()));
    }
    out.push_back(*std::move(r));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no events"));
  return out;
}

void PrintAck(Output& out, const v1::EventAck& ack) {
  if (out.json()) {
    out.Json(ack);
    return;
  }
  out.KeyValues({{"event", {absl::StrCat(ack.event_id())}},
                 {"deliveries created", {absl::StrCat(ack.deliveries_created())}},
                 {"duplicate", {ack.duplicate() ? "yes" : "no"}},
                 {"dropped", {ack.dropped() ? "yes (notifications disabled)" : "no"}}});
}

google::protobuf::Value Number(double v) {
  google::protobuf::Value value;
  value.set_number_value(v);
  return value;
}

// Publishes `count` events over the PublishEvents stream, `next(i)` making
// the i-th, at most `rate` per second (0: as fast as the server takes them).
int PublishStream(Context& ctx, int64_t count, double rate,
                  const std::function<v1::PublishEventsRequest(int64_t)>& next,
                  bool show_acks) {
  absl::StatusOr<Client> client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  std::atomic<bool> stop{false};
  SignalWatcher signals([&] { stop.store(true); });

  ProgressBar bar(count);
  const absl::Time start = absl::Now();
  int64_t produced = 0;
  int64_t acked = 0, refused = 0, deliveries = 0;
  absl::Status first_refusal;
  Table acks({"SEQ", "EVENT", "DELIVERIES", "DUPLICATE", "ERROR"});
  PublishOptions options;
  options.assign_request_ids = true;  // a broken stream can always resume

  absl::StatusOr<PublishSummary> summary = client->PublishEvents(
      [&]() -> std::optional<v1::PublishEventsRequest> {
        if (produced >= count || stop.load()) return std::nullopt;
        if (rate > 0) {
          const absl::Time due = start + absl::Seconds(produced / rate);
          const absl::Duration wait = due - absl::Now();
          if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
        }
        return next(produced++);
      },
      [&](const v1::PublishEventsRequest&, const v1::PublishEventsResponse& r) {
        if (r.has_error()) {
          ++refused;
          const absl::Status error = FromRpcStatus(r.error());
          if (first_refusal.ok()) first_refusal = error;
          if (refused <= 5) {
            ctx.out->Error(absl::StrCat("heraldctl: event ", r.sequence(),
                                        " refused: ", DescribeError(error)));
          }
        } else {
          ++acked;
          deliveries += r.ack().deliveries_created();
        }
        if (show_acks) {
          if (ctx.out->json()) {
            ctx.out->JsonLine(r);
          } else {
            acks.AddRow({{absl::StrCat(r.sequence())},
                         {r.has_ack() ? absl::StrCat(r.ack().event_id()) : "-"},
                         {absl::StrCat(r.ack().deliveries_created())},
                         {r.ack().duplicate() ? "yes" : "no"},
                         {r.has_error() ? r.error().message() : "", Color::kRed}});
          }
        }
        const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
        bar.Update(acked + refused,
                   absl::StrFormat("%.0f ev/s  deliveries %d  refused %d",
                                   seconds > 0 ? (acked + refused) / seconds : 0.0,
                                   deliveries, refused));
      },
      options);
  bar.Finish();
  if (!summary.ok()) return ctx.Fail(summary.status());
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (show_acks) {
    if (!ctx.out->json()) ctx.out->PrintTable(acks);
  } else if (ctx.out->json()) {
    google::protobuf::Struct s;
    auto& f = *s.mutable_fields();
    f["sent"] = Number(static_cast<double>(summary->sent));
    f["acknowledged"] = Number(static_cast<double>(summary->acknowledged));
    f["refused"] = Number(static_cast<double>(summary->refused));
    f["deliveries_created"] = Number(static_cast<double>(summary->deliveries_created));
    f["reconnects"] = Number(summary->reconnects);
    f["seconds"] = Number(seconds);
    ctx.out->Json(s);
  } else {
    ctx.out->KeyValues(
        {{"sent", {absl::StrCat(summary->sent)}},
         {"acknowledged", {absl::StrCat(summary->acknowledged)}},
         {"refused", {absl::StrCat(summary->refused),
                      summary->refused > 0 ? Color::kRed : Color::kNone}},
         {"deliveries created", {absl::StrCat(summary->deliveries_created)}},
         {"reconnects", {absl::StrCat(summary->reconnects)}},
         {"elapsed", {absl::StrFormat("%.2fs", seconds)}},
         {"rate", {absl::StrFormat("%.1f events/s",
                                   seconds > 0 ? summary->sent / seconds : 0.0)}}});
  }
  if (signals.fired()) ctx.out->Error("heraldctl: interrupted");
  if (!first_refusal.ok()) return ExitCodeFor(first_refusal);
  return kExitOk;
}

int Publish(Context& ctx) {
  const bool load = ctx.flags.Has("count");
  double rate = 0;
  if (ctx.flags.Has("rate")) {
    if (!absl::SimpleAtod(ctx.flags.String("rate"), &rate) || rate < 0) {
      return ctx.Usage("--rate must be a number of events per second (0: unlimited)");
    }
  }
  if (ctx.flags.Has("file")) {
    if (load) return ctx.Usage("--count goes with the event flags, not --file");
    absl::StatusOr<std::vector<v1::PublishEventRequest>> events =
        EventsFromFile(ctx.flags.String("file"));
    if (!events.ok()) return ctx.Usage(std::string(events.status().message()));
    if (events->size() == 1) {
      v1::PublishEventRequest request = (*events)[0];
      if (ctx.flags.Has("request-id")) request.set_request_id(ctx.flags.String("request-id"));
      absl::StatusOr<Client> client = ctx.client();
      if (!client.ok()) return ctx.Fail(client.status());
      absl::StatusOr<v1::EventAck> ack = client->PublishEvent(request);
      if (!ack.ok()) return ctx.Fail(ack.status());
      PrintAck(*ctx.out, *ack);
      return kExitOk;
    }
    return PublishStream(
        ctx, static_cast<int64_t>(events->size()), rate,
        [&](int64_t i) {
          v1::PublishEventsRequest r;
          *r.mutable_event() = (*events)[i].event();
          r.set_request_id((*events)[i].request_id());
          return r;
        },
        /*show_acks=*/true);
  }

  absl::StatusOr<v1::Event> event = EventFromFlags(ctx.flags);
  if (!event.ok()) return ctx.Usage(std::string(event.status().message()));
  if (!load) {
    absl::StatusOr<Client> client = ctx.client();
    if (!client.ok()) return ctx.Fail(client.status());
    absl::StatusOr<v1::EventAck> ack =
        client->PublishEvent(*event, ctx.flags.String("request-id"));
    if (!ack.ok()) return ctx.Fail(ack.status());
    PrintAck(*ctx.out, *ack);
    return kExitOk;
  }
  const int64_t count = ctx.flags.Int("count");
  if (count <= 0) return ctx.Usage("--count must be positive");
  const std::string prefix = ctx.flags.Has("request-id")
                                 ? ctx.flags.String("request-id")
                                 : absl::StrCat("heraldctl-", RandomHex(12));
  return PublishStream(
      ctx, count, rate,
      [&](int64_t i) {
        v1::PublishEventsRequest r;
        *r.mutable_event() = *event;
        r.set_request_id(absl::StrCat(prefix, "-", i + 1));
        return r;
      },
      /*show_acks=*/false);
}

}  // namespace

void RegisterEventCommands() {
  Registry().push_back(
      {{"events", "publish"},
       "",
       "Publish events (one, a file of them, or a load of --count N)",
       "One event from flags or from a proto JSON file (a herald.v1.Event or a\n"
       "PublishEventRequest; a file with one JSON object per line publishes\n"
       "them all over one PublishEvents stream). Artifact events without\n"
       "--digest get a random digest.\n\n"
       "Load mode (--count N [--rate R]) streams N copies of the flags' event,\n"
       "each with its own request_id (so a broken stream resumes without\n"
       "duplicates), with a progress bar on a terminal. Ctrl-C stops early.",
       "heraldctl events publish --project 1 --type PUSH_ARTIFACT \\\n"
       "    --repo library/busybox --tag v1.2 --digest sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c\n"
       "heraldctl events publish --file event.json\n"
       "heraldctl events publish --project 1 --repo library/app --tag latest --count 1000 --rate 200",
       {{"type", Kind::kString, "TYPE", "event type (default PUSH_ARTIFACT)"},
        {"project", Kind::kInt, "ID", "the project the event happened in"},
        {"repo", Kind::kString, "NS/NAME", "repository (default library/hello-world)"},
        {"tag", Kind::kString, "TAG", "artifact tag"},
        {"digest", Kind::kString, "DIGEST", "artifact digest (default: random sha256)"},
        {"operator", Kind::kString, "NAME", "who caused it (default heraldctl)"},
        {"attr", Kind::kList, "KEY=VALUE", "custom attribute (QUOTA_* need Details=...)"},
        {"request-id", Kind::kString, "KEY",
         "idempotency key (load mode: the prefix of each event's key)"},
        {"file", Kind::kString, "FILE", "proto JSON event(s); \"-\" reads stdin"},
        {"count", Kind::kInt, "N", "load mode: publish N events over a stream"},
        {"rate", Kind::kString, "R", "load mode: at most R events per second"}},
       Publish});
}

}  // namespace herald::ctl
