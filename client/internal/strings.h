// String helpers shared by the client's .cc files. Not installed.
#ifndef HERALD_CLIENT_INTERNAL_STRINGS_H_
#define HERALD_CLIENT_INTERNAL_STRINGS_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace herald::internal {

// Debian's Abseil (20220623) has its own absl::string_view, distinct from
// std::string_view; convert explicitly at the boundary.
inline absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view SV(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace herald::internal

#endif  // HERALD_CLIENT_INTERNAL_STRINGS_H_
