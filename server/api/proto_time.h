// absl::Time/Duration <-> google.protobuf.Timestamp/Duration.
#ifndef HERALD_SERVER_API_PROTO_TIME_H_
#define HERALD_SERVER_API_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace herald::api {

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1000000000;
  int64_t rem = nanos % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rem));
  return out;
}

inline absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline google::protobuf::Duration ToProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

inline absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// True for real times: infinite times and the Unix epoch (how stores write
// "never") mean "none", which the API expresses as an unset field.
inline bool IsSetTime(absl::Time t) {
  return t > absl::UnixEpoch() && t != absl::InfiniteFuture();
}

// Sets the Timestamp field that `mutable_field()` returns only for real
// times, so an unset time leaves the field absent (has_x() false).
template <typename MutableField>
void SetTimeIfSet(absl::Time t, MutableField mutable_field) {
  if (IsSetTime(t)) *mutable_field() = ToProto(t);
}

}  // namespace herald::api

#endif  // HERALD_SERVER_API_PROTO_TIME_H_
