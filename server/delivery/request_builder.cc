#include "server/delivery/request_builder.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/core/policy_validation.h"
#include "server/delivery/signer.h"

#ifndef HERALD_VERSION_STRING
#define HERALD_VERSION_STRING "0.0.0"
#endif

namespace herald::delivery {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

bool HasCustomHeader(const core::Target& target, std::string_view name) {
  for (const core::Header& h : target.headers) {
    if (absl::EqualsIgnoreCase(AV(h.name), AV(name))) return true;
  }
  return false;
}

}  // namespace

std::string DefaultUserAgent() {
  return absl::StrCat("herald/", HERALD_VERSION_STRING);
}

absl::StatusOr<std::string> EndpointKey(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return absl::InvalidArgumentError("URL has no scheme");
  }
  const std::string scheme = absl::AsciiStrToLower(AV(url.substr(0, sep)));
  std::string_view default_port;
  if (scheme == "http") {
    default_port = "80";
  } else if (scheme == "https") {
    default_port = "443";
  } else {
    return absl::InvalidArgumentError("URL scheme is not http or https");
  }
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // userinfo never enters the key
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("URL has an unterminated IPv6 host");
    }
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError("URL has a malformed authority");
      }
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") {
    return absl::InvalidArgumentError("URL has no host");
  }
  if (port.empty()) port = default_port;
  uint32_t port_value = 0;
  const bool digits = std::all_of(port.begin(), port.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  if (!digits || !absl::SimpleAtoi(AV(port), &port_value) || port_value == 0 ||
      port_value > 65535) {
    return absl::InvalidArgumentError("URL has an invalid port");
  }
  return absl::StrCat(scheme, "://", absl::AsciiStrToLower(AV(host)), ":",
                      port_value);
}

HttpRequest BuildRequest(const core::Execution& execution,
                         const BuildOptions& options, absl::Time now) {
  const core::Target& target = execution.target;
  const bool slack = target.type == core::TargetType::kSlack;

  HttpRequest request;
  request.url = target.address;
  request.body = execution.payload;
  request.timeout = options.timeout;
  request.skip_cert_verify = target.skip_cert_verify;
  request.ca_bundle_pem = target.ca_bundle_pem;
  request.follow_redirects = target.follow_redirects;
  // An unparsable address still gets a key of its own; the sender then
  // fails the attempt with a clear error.
  absl::StatusOr<std::string> key = EndpointKey(target.address);
  request.endpoint_key = key.ok() ? *std::move(key) : target.address;

  std::vector<core::Header>& headers = request.headers;
  headers.reserve(6 + target.headers.size());
  headers.push_back(
      {"Content-Type", slack || execution.content_type.empty()
                           ? std::string("application/json")
                           : execution.content_type});
  if (!slack && !target.auth_header.empty()) {
    headers.push_back({"Authorization", target.auth_header});
  }
  if (!options.user_agent.empty() && !HasCustomHeader(target, "User-Agent")) {
    headers.push_back({"User-Agent", options.user_agent});
  }
  if (!execution.webhook_id.empty()) {
    const int64_t timestamp = absl::ToUnixSeconds(now);
    headers.push_back({std::string(kWebhookIdHeader), execution.webhook_id});
    headers.push_back(
        {std::string(kWebhookTimestampHeader), absl::StrCat(timestamp)});
    if (!target.signing_secret.empty()) {
      std::vector<std::string> secrets = {target.signing_secret};
      if (!target.previous_signing_secret.empty() &&
          target.previous_secret_expire_time > now) {
        secrets.push_back(target.previous_signing_secret);
      }
      std::string signature = SignatureHeader(execution.webhook_id, timestamp,
                                              execution.payload, secrets);
      if (!signature.empty()) {
        headers.push_back(
            {std::string(kWebhookSignatureHeader), std::move(signature)});
      }
    }
  }
  for (const core::Header& h : target.headers) {
    if (core::IsReservedHeaderName(h.name)) continue;
    headers.push_back(h);
  }
  return request;
}

}  // namespace herald::delivery
