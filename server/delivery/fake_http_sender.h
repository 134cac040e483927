// FakeHttpSender: an in-memory HttpSender for unit tests of the dispatcher.
//
// It records every request and answers from a script:
//
//   FakeHttpSender sender;                       // callbacks on its own thread
//   sender.Enqueue("http://a/hook", Status(500));  // 1st request to the URL
//   sender.Enqueue("http://a/hook", Status(200));  // 2nd
//   sender.SetResponder("http://b/hook", [](const HttpRequest& r) {
//     return FakeHttpSender::Status(429, absl::Seconds(5));
//   });
//   ... run the dispatcher ...
//   EXPECT_TRUE(sender.WaitForRequests(3, absl::Seconds(5)));
//   EXPECT_EQ(sender.requests()[0].url, "http://a/hook");
//
// Answer lookup per request, first match wins: the URL's queue of one-shot
// answers (Enqueue), the URL's responder (SetResponder), the default
// responder (SetDefault; initially "200, empty body").
//
// Completion: in Mode::kOwnThread `done` runs on the fake's single worker
// thread, in Send order, like CurlSender; in Mode::kInline it runs inside
// Send (tests re-entrancy and makes tests single-threaded). While holding
// (SetHold(true)), exchanges stay in flight until Release() - for tests of
// concurrency limits, in_flight() and Shutdown; released exchanges complete
// on the worker thread (kOwnThread) or inside Release (kInline).
//
// Shutdown(deadline) behaves like CurlSender's: new requests are refused
// inline with kOther "sender is shut down"; held exchanges get `deadline`
// to be released by another thread, then complete with kOther "shutting
// down"; it returns once every callback has run.
//
// Thread-safety: every method may be called from any thread, and from
// inside `done` and responders (except Shutdown and the destructor).
#ifndef HERALD_SERVER_DELIVERY_FAKE_HTTP_SENDER_H_
#define HERALD_SERVER_DELIVERY_FAKE_HTTP_SENDER_H_

#include <climits>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/delivery/http_sender.h"

namespace herald::delivery {

class FakeHttpSender final : public HttpSender {
 public:
  enum class Mode { kOwnThread, kInline };
  using Responder = std::function<HttpResult(const HttpRequest&)>;

  explicit FakeHttpSender(Mode mode = Mode::kOwnThread) : mode_(mode) {
    if (mode_ == Mode::kOwnThread) worker_ = std::thread([this] { Work(); });
  }
  ~FakeHttpSender() override { Shutdown(absl::ZeroDuration()); }

  FakeHttpSender(const FakeHttpSender&) = delete;
  FakeHttpSender& operator=(const FakeHttpSender&) = delete;

  // Convenience results.
  static HttpResult Status(int code,
                           std::optional<absl::Duration> retry_after = {}) {
    HttpResult r;
    r.status_code = code;
    r.retry_after = retry_after;
    r.latency = absl::Milliseconds(1);
    return r;
  }
  static HttpResult Error(HttpErrorKind kind, std::string error) {
    HttpResult r;
    r.error_kind = kind;
    r.error = std::move(error);
    r.latency = absl::Milliseconds(1);
    return r;
  }

  // Script. The next request to `url` gets `result` / `responder`'s answer.
  void Enqueue(std::string url, HttpResult result) {
    absl::MutexLock lock(&mu_);
    queued_[std::move(url)].push_back(
        [result = std::move(result)](const HttpRequest&) { return result; });
  }
  void Enqueue(std::string url, Responder responder) {
    absl::MutexLock lock(&mu_);
    queued_[std::move(url)].push_back(std::move(responder));
  }
  // Every request to `url` once its Enqueue'd answers are used up.
  void SetResponder(std::string url, Responder responder) {
    absl::MutexLock lock(&mu_);
    responders_[std::move(url)] = std::move(responder);
  }
  // Every request without a more specific answer.
  void SetDefault(Responder responder) {
    absl::MutexLock lock(&mu_);
    default_ = std::move(responder);
  }

  // Holding: see the file comment.
  void SetHold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  // Completes up to `n` held exchanges, oldest first; returns how many.
  int Release(int n = INT_MAX) {
    std::vector<Completion> released;
    {
      absl::MutexLock lock(&mu_);
      while (n-- > 0 && !held_.empty()) {
        released.push_back(std::move(held_.front()));
        held_.pop_front();
      }
    }
    const int count = static_cast<int>(released.size());
    for (Completion& c : released) Complete(std::move(c));
    return count;
  }
  int held() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }

  // Observations.
  std::vector<HttpRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  size_t request_count() const {
    absl::MutexLock lock(&mu_);
    return requests_.size();
  }
  // True once at least `n` requests were sent, false after `timeout`.
  bool WaitForRequests(size_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return requests_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  // True once nothing is in flight, false after `timeout`.
  bool WaitForIdle(absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_ == 0;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  }

  // HttpSender.
  void Send(HttpRequest request,
            absl::AnyInvocable<void(HttpResult) &&> done) override {
    Responder responder;
    bool accepted = false;
    {
      absl::MutexLock lock(&mu_);
      if (accepting_) {
        accepted = true;
        requests_.push_back(request);
        ++in_flight_;
        if (auto q = queued_.find(request.url);
            q != queued_.end() && !q->second.empty()) {
          responder = std::move(q->second.front());
          q->second.pop_front();
        } else if (auto r = responders_.find(request.url);
                   r != responders_.end()) {
          responder = r->second;
        } else {
          responder = default_;
        }
      }
    }
    if (!accepted) {
      std::move(done)(Error(HttpErrorKind::kOther, "sender is shut down"));
      return;
    }
    // Responders run unlocked: they may call back into the fake.
    if (!responder) responder = [](const HttpRequest&) { return Status(200); };
    Completion c{responder(request), std::move(done)};
    {
      absl::MutexLock lock(&mu_);
      if (hold_ && accepting_) {
        held_.push_back(std::move(c));
        return;
      }
    }
    Complete(std::move(c));
  }

  int in_flight() const override {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }

  void Shutdown(absl::Duration deadline) override {
    absl::MutexLock serial(&shutdown_mu_);
    {
      absl::MutexLock lock(&mu_);
      accepting_ = false;
      auto released = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return held_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&released),
                           std::max(deadline, absl::ZeroDuration()));
    }
    std::deque<Completion> rest;
    {
      absl::MutexLock lock(&mu_);
      rest.swap(held_);
    }
    for (Completion& c : rest) {
      c.result = Error(HttpErrorKind::kOther, "shutting down");
      Complete(std::move(c));
    }
    {
      // Exchanges accepted just before `accepting_` flipped may still be in
      // a responder; wait for their callbacks before stopping the worker.
      absl::MutexLock lock(&mu_);
      auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return in_flight_ == 0;
      };
      mu_.Await(absl::Condition(&idle));
      stopping_ = true;
    }
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Completion {
    HttpResult result;
    absl::AnyInvocable<void(HttpResult) &&> done;
  };

  void Complete(Completion c) {
    if (mode_ == Mode::kInline) {
      Finish(std::move(c));
      return;
    }
    absl::MutexLock lock(&mu_);
    ready_.push_back(std::move(c));
  }

  void Finish(Completion c) {
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
    }
    std::move(c.done)(std::move(c.result));
  }

  void Work() {
    while (true) {
      std::deque<Completion> batch;
      {
        absl::MutexLock lock(&mu_);
        auto has_work = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return !ready_.empty() || stopping_;
        };
        mu_.Await(absl::Condition(&has_work));
        if (ready_.empty()) return;  // stopping and drained
        batch.swap(ready_);
      }
      for (Completion& c : batch) Finish(std::move(c));
    }
  }

  const Mode mode_;
  mutable absl::Mutex mu_;
  absl::Mutex shutdown_mu_;
  std::map<std::string, std::deque<Responder>> queued_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Responder> responders_ ABSL_GUARDED_BY(mu_);
  Responder default_ ABSL_GUARDED_BY(mu_) = [](const HttpRequest&) {
    return Status(200);
  };
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::deque<Completion> held_ ABSL_GUARDED_BY(mu_);
  std::deque<Completion> ready_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_FAKE_HTTP_SENDER_H_
