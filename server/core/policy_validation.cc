#include "server/core/policy_validation.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/address_rules.h"
#include "server/core/glob.h"

#include <optional>

namespace herald::core {
namespace {

// The IP address a host of a normalised address stands for ("[::1]" for
// IPv6; IPv4 read the way the resolver reads it), or nullopt for a name.
std::optional<common::IpAddress> LiteralIp(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return common::ParseIpAddress(host.substr(1, host.size() - 2));
  }
  return common::ParseIpAddress(host, /*resolver_forms=*/true);
}

// The host of a normalised address ("scheme://host[:port][/...]").
std::string_view HostOf(std::string_view normalized) {
  const size_t start = normalized.find("://");
  if (start == std::string_view::npos) return {};
  std::string_view rest = normalized.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (!rest.empty() && rest.front() == '[') {
    return rest.substr(0, rest.find(']') + 1);
  }
  return rest.substr(0, rest.find(':'));
}

// Debian's Abseil is built with its own string_view type.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

// A user-supplied value echoed in a message: escaped and shortened.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = absl::StrCat(
      "\"", absl::CHexEscape(AV(s.substr(0, std::min(s.size(), kMax)))),
      "\"");
  if (s.size() > kMax) out += "...";
  return out;
}

std::string JoinNames(const auto& names) {
  return absl::StrJoin(names, ", ", [](std::string* out, std::string_view n) {
    out->append(n.data(), n.size());
  });
}

// Decodes UTF-8 and reports the first problem: "" when `s` is valid UTF-8
// (and, with `reject_controls`, has no C0/C1 control or DEL).
std::string Utf8Problem(std::string_view s, bool reject_controls) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    uint32_t cp = b0;
    int len = 1;
    if (b0 >= 0x80) {
      uint32_t min = 0;
      if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
      } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
      } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
      } else {
        return "is not valid UTF-8";
      }
      if (i + len > s.size()) return "is not valid UTF-8";
      for (int k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return "is not valid UTF-8";
        cp = (cp << 6) | (b & 0x3F);
      }
      if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return "is not valid UTF-8";
      }
    }
    if (reject_controls && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))) {
      return "must not contain control characters";
    }
    i += len;
  }
  return "";
}

// Header field content (RFC 7230 field-value): anything but controls other
// than horizontal tab. CR and LF would let a value inject headers.
bool HasHeaderControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

// RFC 7230 tchar.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

template <size_t N>
bool Contains(const std::array<std::string_view, N>& set,
              std::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

absl::Status BadAddress(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("address ", AV(why)));
}

class PolicyValidator {
 public:
  PolicyValidator(const std::vector<std::string>& known_event_types,
                  const common::AddressRules& address_rules)
      : known_event_types_(known_event_types), address_rules_(address_rules) {}

  std::vector<FieldViolation> Run(const Policy& p) {
    Name(p.name);
    Description(p.description);
    EventTypes(p.event_types);
    Targets(p.targets);
    FiltersOf(p);
    Retry(p.retry_policy);
    return std::move(violations_);
  }

 private:
  void Add(std::string field, std::string description) {
    violations_.push_back({std::move(field), std::move(description)});
  }

  void Name(const std::string& name) {
    constexpr std::string_view f = "policy.name";
    if (absl::StripAsciiWhitespace(name).empty()) {
      Add(std::string(f), "name is required");
      return;
    }
    if (name.size() > kMaxPolicyNameBytes) {
      Add(std::string(f), absl::StrCat("name must be at most ",
                                       kMaxPolicyNameBytes, " bytes (got ",
                                       name.size(), ")"));
    }
    if (std::string problem = Utf8Problem(name, true); !problem.empty()) {
      Add(std::string(f), absl::StrCat("name ", problem));
    }
  }

  void Description(const std::string& description) {
    constexpr std::string_view f = "policy.description";
    if (description.size() > kMaxPolicyDescriptionBytes) {
      Add(std::string(f),
          absl::StrCat("description must be at most ",
                       kMaxPolicyDescriptionBytes, " bytes (got ",
                       description.size(), ")"));
    }
    if (std::string problem = Utf8Problem(description, false);
        !problem.empty()) {
      Add(std::string(f), absl::StrCat("description ", problem));
    }
  }

  void EventTypes(const std::vector<std::string>& types) {
    if (types.empty()) {
      Add("policy.event_types", "at least one event type is required");
      return;
    }
    for (size_t i = 0; i < types.size(); ++i) {
      const std::string field = absl::StrCat("policy.event_types[", i, "]");
      const auto first = std::find(types.begin(), types.begin() + i, types[i]);
      if (first != types.begin() + i) {
        Add(field, absl::StrCat("duplicate event type ", Quote(types[i]),
                                " (already listed at index ",
                                first - types.begin(), ")"));
        continue;
      }
      if (std::find(known_event_types_.begin(), known_event_types_.end(),
                    types[i]) == known_event_types_.end()) {
        Add(field, absl::StrCat("unsupported event type ", Quote(types[i]),
                                "; supported: ",
                                JoinNames(known_event_types_)));
      }
    }
  }

  void Targets(const std::vector<Target>& targets) {
    if (targets.empty()) {
      Add("policy.targets", "at least one target is required");
      return;
    }
    if (targets.size() > kMaxTargetsPerPolicy) {
      Add("policy.targets",
          absl::StrCat("at most ", kMaxTargetsPerPolicy,
                       " targets are allowed (got ", targets.size(), ")"));
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      OneTarget(absl::StrCat("policy.targets[", i, "]"), targets[i]);
    }
  }

  void OneTarget(const std::string& prefix, const Target& t) {
    const bool slack = t.type == TargetType::kSlack;
    if (t.type != TargetType::kHttp && !slack) {
      Add(prefix + ".type", "type must be HTTP or SLACK");
    }

    if (absl::StatusOr<std::string> address = NormalizeAddress(t.address);
        !address.ok()) {
      Add(prefix + ".address", std::string(address.status().message()));
    } else if (std::optional<common::IpAddress> ip =
                   LiteralIp(HostOf(*address))) {
      if (std::optional<std::string_view> kind =
              common::ForbiddenAddressKind(*ip, address_rules_)) {
        Add(prefix + ".address",
            absl::StrCat("address host ", AV(HostOf(*address)), " is a ",
                         AV(*kind),
                         " address, which herald does not deliver to (SSRF "
                         "guard: see allow_loopback_targets, "
                         "strict_private_targets and allowed_target_cidrs)"));
      }
    }

    switch (t.payload_format) {
      case PayloadFormat::kUnspecified:
        break;
      case PayloadFormat::kDefault:
      case PayloadFormat::kCloudEvents:
        if (slack) {
          Add(prefix + ".payload_format",
              "payload_format must be unset for SLACK targets (they always "
              "send Slack's message format)");
        }
        break;
      default:
        Add(prefix + ".payload_format",
            "payload_format must be DEFAULT or CLOUDEVENTS");
    }

    if (!t.auth_header.empty()) {
      const std::string f = prefix + ".auth_header";
      if (slack) {
        Add(f, "auth_header is not allowed for SLACK targets");
      } else {
        if (t.auth_header.size() > kMaxAuthHeaderBytes) {
          Add(f, absl::StrCat("auth_header must be at most ",
                              kMaxAuthHeaderBytes, " bytes"));
        }
        if (HasHeaderControl(t.auth_header)) {
          Add(f,
              "auth_header must not contain CR, LF or other control "
              "characters");
        }
      }
    }

    Headers(prefix, t.headers);

    if (!t.signing_secret.empty()) {
      if (absl::Status s = CheckSigningSecret(t.signing_secret); !s.ok()) {
        Add(prefix + ".signing_secret", std::string(s.message()));
      }
    }

    if (!t.ca_bundle_pem.empty()) {
      const std::string f = prefix + ".ca_bundle_pem";
      if (t.ca_bundle_pem.size() > kMaxCaBundleBytes) {
        Add(f, absl::StrCat("ca_bundle_pem must be at most ",
                            kMaxCaBundleBytes, " bytes (got ",
                            t.ca_bundle_pem.size(), ")"));
      }
      if (!absl::StrContains(t.ca_bundle_pem, "-----BEGIN CERTIFICATE-----")) {
        Add(f,
            "ca_bundle_pem must contain at least one PEM certificate "
            "(-----BEGIN CERTIFICATE-----)");
      }
    }
  }

  void Headers(const std::string& prefix, const std::vector<Header>& headers) {
    if (headers.size() > kMaxHeadersPerTarget) {
      Add(prefix + ".headers",
          absl::StrCat("at most ", kMaxHeadersPerTarget,
                       " headers are allowed (got ", headers.size(), ")"));
    }
    for (size_t j = 0; j < headers.size(); ++j) {
      const std::string h = absl::StrCat(prefix, ".headers[", j, "]");
      const Header& header = headers[j];
      if (header.name.empty()) {
        Add(h + ".name", "header name is required");
      } else if (!std::all_of(header.name.begin(), header.name.end(),
                              IsTokenChar)) {
        Add(h + ".name", absl::StrCat("header name ", Quote(header.name),
                                      " is not a valid RFC 7230 token"));
      } else if (IsReservedHeaderName(header.name)) {
        std::string why = "is set by herald and cannot be overridden";
        if (absl::EqualsIgnoreCase(header.name, "Authorization")) {
          why = "is set from auth_header; use auth_header instead";
        } else if (absl::StartsWithIgnoreCase(header.name, "webhook-")) {
          why = "is set by herald when signing; use signing_secret";
        }
        Add(h + ".name", absl::StrCat("header ", header.name, " ", why));
      }
      if (header.value.size() > kMaxHeaderValueBytes) {
        Add(h + ".value", absl::StrCat("header value must be at most ",
                                       kMaxHeaderValueBytes, " bytes"));
      }
      if (HasHeaderControl(header.value)) {
        Add(h + ".value",
            "header value must not contain CR, LF or other control "
            "characters");
      }
    }
  }

  void Patterns(std::string_view list, const std::vector<std::string>& pats) {
    const std::string f = absl::StrCat("policy.filters.", AV(list));
    if (pats.size() > kMaxPatternsPerFilter) {
      Add(f, absl::StrCat("at most ", kMaxPatternsPerFilter,
                          " patterns are allowed (got ", pats.size(), ")"));
    }
    for (size_t i = 0; i < pats.size(); ++i) {
      if (absl::StatusOr<Glob> g = Glob::Compile(pats[i]); !g.ok()) {
        Add(absl::StrCat(f, "[", i, "]"), std::string(g.status().message()));
      }
    }
  }

  template <size_t N>
  void Statuses(std::string_view list, const std::vector<std::string>& got,
                const std::array<std::string_view, N>& allowed,
                std::string_view what, bool applicable,
                std::string_view needs) {
    if (got.empty()) return;
    const std::string f = absl::StrCat("policy.filters.", AV(list));
    if (!applicable) {
      Add(f, absl::StrCat(AV(list), " is only allowed when event_types lists ",
                          AV(needs)));
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (!Contains(allowed, got[i])) {
        Add(absl::StrCat(f, "[", i, "]"),
            absl::StrCat("unsupported ", AV(what), " ", Quote(got[i]),
                         "; supported: ", JoinNames(allowed)));
      }
    }
  }

  void FiltersOf(const Policy& p) {
    Patterns("repository_patterns", p.filters.repository_patterns);
    Patterns("tag_patterns", p.filters.tag_patterns);
    const bool scanning = std::any_of(p.event_types.begin(),
                                      p.event_types.end(), IsScanningEventType);
    const bool replication =
        std::find(p.event_types.begin(), p.event_types.end(),
                  kReplicationEventType) != p.event_types.end();
    Statuses("scan_statuses", p.filters.scan_statuses, kScanStatuses,
             "scan status", scanning, "a SCANNING_* event type");
    Statuses("replication_statuses", p.filters.replication_statuses,
             kReplicationStatuses, "replication status", replication,
             "REPLICATION");
  }

  void Retry(const RetryPolicy& r) {
    constexpr std::string_view p = "policy.retry_policy.";
    if (r.max_attempts < 0 || r.max_attempts > kMaxRetryAttempts) {
      Add(absl::StrCat(AV(p), "max_attempts"),
          absl::StrCat("max_attempts must be 0 (server default) or 1 to ",
                       kMaxRetryAttempts, " (got ", r.max_attempts, ")"));
    }
    switch (r.backoff) {
      case BackoffKind::kUnspecified:
      case BackoffKind::kHarbor:
      case BackoffKind::kExponential:
        break;
      default:
        Add(absl::StrCat(AV(p), "backoff"),
            "backoff must be HARBOR or EXPONENTIAL");
    }
    const bool initial_ok = NonNegative(p, "initial_backoff", r.initial_backoff);
    const bool max_ok = NonNegative(p, "max_backoff", r.max_backoff);
    if (initial_ok && max_ok && r.initial_backoff > absl::ZeroDuration() &&
        r.max_backoff > absl::ZeroDuration() &&
        r.max_backoff < r.initial_backoff) {
      Add(absl::StrCat(AV(p), "max_backoff"),
          absl::StrCat("max_backoff (", absl::FormatDuration(r.max_backoff),
                       ") must not be less than initial_backoff (",
                       absl::FormatDuration(r.initial_backoff), ")"));
    }
    if (r.http_timeout != absl::ZeroDuration() &&
        (r.http_timeout < kMinHttpTimeout || r.http_timeout > kMaxHttpTimeout)) {
      Add(absl::StrCat(AV(p), "http_timeout"),
          absl::StrCat("http_timeout must be 0 (server default) or from ",
                       absl::FormatDuration(kMinHttpTimeout), " to ",
                       absl::FormatDuration(kMaxHttpTimeout), " (got ",
                       absl::FormatDuration(r.http_timeout), ")"));
    }
  }

  bool NonNegative(std::string_view prefix, std::string_view name,
                   absl::Duration d) {
    if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      Add(absl::StrCat(AV(prefix), AV(name)),
          absl::StrCat(AV(name), " must be finite and not negative"));
      return false;
    }
    return true;
  }

  const std::vector<std::string>& known_event_types_;
  const common::AddressRules& address_rules_;
  std::vector<FieldViolation> violations_;
};

}  // namespace

bool IsScanningEventType(std::string_view event_type) {
  return event_type.size() > 9 && event_type.substr(0, 9) == "SCANNING_";
}

std::vector<FieldViolation> ValidatePolicy(
    const Policy& policy, const std::vector<std::string>& known_event_types,
    const common::AddressRules& address_rules) {
  return PolicyValidator(known_event_types, address_rules).Run(policy);
}

void ApplyPolicyDefaults(Policy& policy) {
  for (Target& t : policy.targets) {
    if (t.type == TargetType::kHttp &&
        t.payload_format == PayloadFormat::kUnspecified) {
      t.payload_format = PayloadFormat::kDefault;
    }
    if (absl::StatusOr<std::string> a = NormalizeAddress(t.address); a.ok()) {
      t.address = *std::move(a);
    }
  }
}

absl::StatusOr<std::string> NormalizeAddress(std::string_view address) {
  const absl::string_view s = absl::StripAsciiWhitespace(AV(address));
  if (s.empty()) return BadAddress("is required");
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      return BadAddress("must not contain whitespace or control characters");
    }
    if (c >= 0x80) {
      return BadAddress(
          "must be ASCII: percent-encode the path and use the punycode form "
          "of an internationalised host");
    }
  }
  const size_t scheme_end = s.find("://");
  if (scheme_end == absl::string_view::npos || scheme_end == 0) {
    return BadAddress(
        "must be an absolute http or https URL including the scheme, e.g. "
        "https://example.com/hook");
  }
  const std::string scheme = absl::AsciiStrToLower(s.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return BadAddress(absl::StrCat("scheme ", Quote(scheme),
                                   " is not supported: use http or https"));
  }
  const absl::string_view rest = s.substr(scheme_end + 3);
  if (absl::StrContains(rest, '#')) {
    return BadAddress("must not contain a fragment (#...)");
  }
  const size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
  const absl::string_view authority = rest.substr(0, authority_end);
  const absl::string_view tail = rest.substr(authority_end);
  if (absl::StrContains(authority, '@')) {
    return BadAddress(
        "must not contain user info (user:password@): URLs end up in logs; "
        "put credentials in auth_header");
  }

  absl::string_view host;
  absl::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return BadAddress("has an IPv6 host without a closing ']'");
    }
    host = authority.substr(0, close + 1);
    const absl::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty() || !absl::StrContains(inner, ':') ||
        !std::all_of(inner.begin(), inner.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
                 c == ':' || c == '.';
        })) {
      return BadAddress("has an invalid IPv6 host");
    }
    const absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return BadAddress("has unexpected characters after the IPv6 host");
      }
      has_port = true;
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != absl::string_view::npos) {
      if (authority.find(':', colon + 1) != absl::string_view::npos) {
        return BadAddress("has an IPv6 host that is not enclosed in [ ]");
      }
      has_port = true;
      port = authority.substr(colon + 1);
    }
    for (char c : host) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
          c != '.' && c != '_' && c != '~') {
        return BadAddress(absl::StrCat("has an invalid character ",
                                       Quote(std::string_view(&c, 1)),
                                       " in the host"));
      }
    }
  }
  if (host.empty()) return BadAddress("must have a host");

  int port_value = 0;
  if (has_port) {
    const bool digits =
        !port.empty() && std::all_of(port.begin(), port.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        });
    absl::string_view significant = port;
    while (significant.size() > 1 && significant.front() == '0') {
      significant.remove_prefix(1);
    }
    if (digits && significant.size() <= 5) {
      for (char c : significant) port_value = port_value * 10 + (c - '0');
    }
    if (!digits || port_value < 1 || port_value > 65535) {
      return BadAddress("port must be a number from 1 to 65535");
    }
  }

  for (size_t i = 0; i < tail.size(); ++i) {
    const char c = tail[i];
    if (absl::string_view("\"<>\\^`{|}").find(c) != absl::string_view::npos) {
      return BadAddress(absl::StrCat("has a character ",
                                     Quote(std::string_view(&c, 1)),
                                     " that must be percent-encoded"));
    }
    if (c == '%' &&
        (i + 2 >= tail.size() ||
         !absl::ascii_isxdigit(static_cast<unsigned char>(tail[i + 1])) ||
         !absl::ascii_isxdigit(static_cast<unsigned char>(tail[i + 2])))) {
      return BadAddress("has an invalid percent-encoding");
    }
  }
  const size_t query_start = std::min(tail.find('?'), tail.size());
  absl::string_view path = tail.substr(0, query_start);
  const absl::string_view query = tail.substr(query_start);
  if (path == "/") path = "";

  std::string out = absl::StrCat(scheme, "://", absl::AsciiStrToLower(host));
  if (has_port) absl::StrAppend(&out, ":", port_value);
  absl::StrAppend(&out, path, query);
  return out;
}

bool IsReservedHeaderName(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "Host",           "Content-Length",    "Content-Type",
      "Authorization",  "Transfer-Encoding", "Connection",
      "webhook-id",     "webhook-timestamp", "webhook-signature",
      "Keep-Alive",     "TE",                "Trailer",
      "Upgrade",        "Expect",            "Proxy-Connection",
      "Proxy-Authorization",
  };
  for (std::string_view r : kReserved) {
    if (absl::EqualsIgnoreCase(AV(r), AV(name))) return true;
  }
  return false;
}

absl::Status CheckSigningSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  const auto fail = [] {
    return absl::InvalidArgumentError(absl::StrCat(
        "signing_secret must be \"whsec_\" followed by the base64 of ",
        kMinSigningSecretBytes, " to ", kMaxSigningSecretBytes, " bytes"));
  };
  if (secret.substr(0, kPrefix.size()) != kPrefix) return fail();
  std::string_view b64 = secret.substr(kPrefix.size());
  // Strict alphabet: absl's decoder tolerates whitespace, we do not.
  size_t padding = 0;
  while (!b64.empty() && b64.back() == '=' && padding < 2) {
    b64.remove_suffix(1);
    ++padding;
  }
  const bool alphabet = std::all_of(b64.begin(), b64.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
           c == '/';
  });
  if (b64.empty() || !alphabet) return fail();
  if (padding > 0 && (b64.size() + padding) % 4 != 0) return fail();
  std::string raw;
  if (!absl::Base64Unescape(AV(b64), &raw) ||
      raw.size() < kMinSigningSecretBytes ||
      raw.size() > kMaxSigningSecretBytes) {
    return fail();
  }
  return absl::OkStatus();
}

}  // namespace herald::core
