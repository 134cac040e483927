#include "server/render/uuid.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "absl/random/random.h"

namespace herald::render {
namespace {

void FillRandom(std::array<uint8_t, 16>& bytes) {
  size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n =
        getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  if (filled == bytes.size()) return;
  // getrandom(2) is missing (very old kernels or seccomp filters): fall back
  // to Abseil's generator, which is seeded from the OS entropy source.
  thread_local absl::BitGen gen;
  for (uint8_t& b : bytes)
    b = static_cast<uint8_t>(absl::Uniform<uint32_t>(gen));
}

}  // namespace

std::string NewUuidV4() {
  std::array<uint8_t, 16> b;
  FillRandom(b);
  b[6] = (b[6] & 0x0F) | 0x40;  // version 4
  b[8] = (b[8] & 0x3F) | 0x80;  // RFC 4122 variant
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xF];
  }
  return out;
}

}  // namespace herald::render
