// File: stream_range.h
//
// StreamRange<T> is an input range over the results of a streaming or
// paginated call, modelled on google-cloud-cpp's StreamRange. Iterating it
// yields absl::StatusOr<T>: one element per value and, if the underlying
// call fails, one last element holding the error. A range that ends without
// an error element completed successfully.
//
//   herald::PaginatedRange<herald::v1::Policy> policies =
//       client.ListPolicies(request);
//   for (absl::StatusOr<herald::v1::Policy>& policy : policies) {
//     if (!policy.ok()) return policy.status();  // the error ends the range
//     std::cout << policy->name() << "\n";
//   }
//
// PaginatedRange<T> is the same type, built over a page fetcher: pages are
// requested lazily, one RPC when the iteration reaches the end of the
// previous page, and never before begin() is called.
//
// A range is move-only and single-pass (an input range: begin() may be
// called once). It is not thread-safe, except Cancel(), which another thread
// may call at any time while the range is alive: it makes a blocked or the
// next read end (streams end with CANCELLED, reconnecting watches end
// normally).
//
// To build ranges in tests (for example as the return value of a mocked
// Connection), use MakeStreamRange() and MakePaginatedRange() below.
#ifndef HERALD_CLIENT_STREAM_RANGE_H_
#define HERALD_CLIENT_STREAM_RANGE_H_

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace herald {

// The producer behind a StreamRange. Next() returns the next value, or a
// status that ends the range (OK: normal end; otherwise the error becomes
// the range's last element). Next() is never called again after it returned
// a status. Cancel() may be called from any thread, concurrently with Next().
template <typename T>
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  virtual std::variant<absl::Status, T> Next() = 0;
  virtual void Cancel() {}
};

template <typename T>
class StreamRange {
 public:
  using value_type = absl::StatusOr<T>;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = absl::StatusOr<T>;
    using difference_type = std::ptrdiff_t;
    using reference = value_type&;
    using pointer = value_type*;

    iterator() = default;

    reference operator*() const { return owner_->current_; }
    pointer operator->() const { return &owner_->current_; }
    iterator& operator++() {
      owner_->Advance();
      if (owner_->is_end_) owner_ = nullptr;
      return *this;
    }
    // Post-increment of an input iterator: the returned copy is only good
    // for comparison.
    void operator++(int) { ++*this; }

    friend bool operator==(const iterator& a, const iterator& b) {
      return a.owner_ == b.owner_;
    }
    friend bool operator!=(const iterator& a, const iterator& b) {
      return !(a == b);
    }

   private:
    friend class StreamRange;
    explicit iterator(StreamRange* owner) : owner_(owner) {}
    StreamRange* owner_ = nullptr;
  };

  // An empty range (ends at once, successfully).
  StreamRange() = default;
  explicit StreamRange(std::unique_ptr<StreamSource<T>> source)
      : source_(std::move(source)) {}

  StreamRange(StreamRange&&) noexcept = default;
  StreamRange& operator=(StreamRange&&) noexcept = default;
  StreamRange(const StreamRange&) = delete;
  StreamRange& operator=(const StreamRange&) = delete;

  // Reads the first element (the first RPC happens here at the latest).
  iterator begin() {
    if (!started_) {
      started_ = true;
      Advance();
    }
    return is_end_ ? end() : iterator(this);
  }
  iterator end() { return iterator(); }

  // Thread-safe; see the file comment.
  void Cancel() {
    if (source_ != nullptr) source_->Cancel();
  }

 private:
  void Advance() {
    if (source_ == nullptr || done_) {
      is_end_ = true;
      return;
    }
    std::variant<absl::Status, T> next = source_->Next();
    if (T* value = std::get_if<T>(&next)) {
      current_ = std::move(*value);
      return;
    }
    absl::Status status = std::get<absl::Status>(std::move(next));
    done_ = true;
    if (status.ok()) {
      is_end_ = true;
    } else {
      current_ = std::move(status);  // the last element
    }
  }

  std::unique_ptr<StreamSource<T>> source_;
  absl::StatusOr<T> current_;
  bool started_ = false;
  bool done_ = false;    // the source returned a status
  bool is_end_ = false;  // iteration is over
};

// A paginated list call: the same range type, over lazily fetched pages.
template <typename T>
using PaginatedRange = StreamRange<T>;

// One page of a paginated list.
template <typename T>
struct Page {
  std::vector<T> items;
  // Empty on the last page.
  std::string next_page_token;
};

// Fetches the page at `page_token` (the request's own page_token for the
// first page, usually "").
template <typename T>
using PageFetcher =
    std::function<absl::StatusOr<Page<T>>(const std::string& page_token)>;

namespace internal {

template <typename T>
class FunctionSource final : public StreamSource<T> {
 public:
  FunctionSource(std::function<std::variant<absl::Status, T>()> next,
                 std::function<void()> cancel)
      : next_(std::move(next)), cancel_(std::move(cancel)) {}
  std::variant<absl::Status, T> Next() override { return next_(); }
  void Cancel() override {
    if (cancel_) cancel_();
  }

 private:
  std::function<std::variant<absl::Status, T>()> next_;
  std::function<void()> cancel_;
};

template <typename T>
class PageSource final : public StreamSource<T> {
 public:
  PageSource(PageFetcher<T> fetch, std::string first_page_token)
      : fetch_(std::move(fetch)), token_(std::move(first_page_token)) {}
  std::variant<absl::Status, T> Next() override {
    while (index_ >= items_.size()) {
      if (last_page_) return absl::OkStatus();
      absl::StatusOr<Page<T>> page = fetch_(token_);
      if (!page.ok()) return page.status();
      items_ = std::move(page->items);
      index_ = 0;
      token_ = std::move(page->next_page_token);
      last_page_ = token_.empty();
    }
    return std::move(items_[index_++]);
  }

 private:
  PageFetcher<T> fetch_;
  std::vector<T> items_;
  std::size_t index_ = 0;
  std::string token_;
  bool last_page_ = false;
};

}  // namespace internal

// A range over a function: each call returns the next value or the ending
// status. `cancel`, if given, implements StreamRange::Cancel().
template <typename T>
StreamRange<T> MakeStreamRange(
    std::function<std::variant<absl::Status, T>()> next,
    std::function<void()> cancel = {}) {
  return StreamRange<T>(std::make_unique<internal::FunctionSource<T>>(
      std::move(next), std::move(cancel)));
}

// A range yielding `values`, then `final_status` (OK: a normal end). Meant
// for tests and mocks.
template <typename T>
StreamRange<T> MakeStreamRange(std::vector<T> values,
                               absl::Status final_status = absl::OkStatus()) {
  auto state = std::make_shared<std::pair<std::vector<T>, std::size_t>>(
      std::move(values), 0);
  return MakeStreamRange<T>(
      [state, final_status]() -> std::variant<absl::Status, T> {
        if (state->second < state->first.size()) {
          return std::move(state->first[state->second++]);
        }
        return final_status;
      });
}

// A range that fetches pages lazily with `fetch`, starting at
// `first_page_token` ("" for the first page).
template <typename T>
PaginatedRange<T> MakePaginatedRange(PageFetcher<T> fetch,
                                     std::string first_page_token = "") {
  return PaginatedRange<T>(std::make_unique<internal::PageSource<T>>(
      std::move(fetch), std::move(first_page_token)));
}

// A range whose only element is `error` (not OK).
template <typename T>
StreamRange<T> MakeErrorRange(absl::Status error) {
  return MakeStreamRange<T>(std::vector<T>{}, std::move(error));
}

}  // namespace herald

#endif  // HERALD_CLIENT_STREAM_RANGE_H_
