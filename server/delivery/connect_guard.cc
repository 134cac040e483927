#include "server/delivery/connect_guard.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::delivery {

absl::Status CheckConnectAddress(const std::string &ip,
                                 const common::AddressRules &rules) {
  std::optional<common::IpAddress> parsed = common::ParseIpAddress(ip);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError("not a numeric IP address");
  }
  if (std::optional<std::string_view> kind =
          common::ForbiddenAddressKind(*parsed, rules)) {
    return absl::PermissionDeniedError(
        absl::StrCat(std::string(*kind), " address"));
  }
  return absl::OkStatus();
}

std::function<absl::Status(const std::string &)>
MakeConnectGuard(common::AddressRules rules) {
  return [rules = std::move(rules)](const std::string &ip) {
    return CheckConnectAddress(ip, rules);
  };
}

} // namespace herald::delivery
