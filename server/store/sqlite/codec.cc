#include "server/store/sqlite/codec.h"

#include <exception>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "server/store/secret_box.h"
#include "server/store/sqlite/sqlite_db.h"

namespace herald::store::sqlite {
namespace {

using nlohmann::json;

// Serialises `j`; fails (instead of throwing) on invalid UTF-8.
absl::StatusOr<std::string> Dump(const json& j, absl::string_view what) {
  try {
    return j.dump();
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " contains text that is not valid UTF-8"));
  }
}

// Parses and converts with `fn`, mapping any exception to kInternal. A
// syntax error is reported by position only: nlohmann's message quotes the
// text it last read, which may be a secret.
template <typename Fn>
auto Parse(absl::string_view text, absl::string_view what, Fn fn)
    -> absl::StatusOr<decltype(fn(std::declval<const json&>()))> {
  try {
    json j = json::parse(text);
    return fn(j);
  } catch (const json::parse_error& e) {
    return absl::InternalError(absl::StrCat("stored ", what,
                                            " cannot be decoded: invalid JSON "
                                            "at byte ", e.byte));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("stored ", what, " cannot be decoded: ", e.what()));
  }
}

absl::string_view TargetTypeName(core::TargetType t) {
  return t == core::TargetType::kSlack ? "SLACK" : "HTTP";
}
core::TargetType ParseTargetType(absl::string_view s) {
  return s == "SLACK" ? core::TargetType::kSlack : core::TargetType::kHttp;
}
absl::string_view FormatName(core::PayloadFormat f) {
  switch (f) {
    case core::PayloadFormat::kDefault: return "DEFAULT";
    case core::PayloadFormat::kCloudEvents: return "CLOUDEVENTS";
    case core::PayloadFormat::kUnspecified: break;
  }
  return "";
}
core::PayloadFormat ParseFormat(absl::string_view s) {
  if (s == "DEFAULT") return core::PayloadFormat::kDefault;
  if (s == "CLOUDEVENTS") return core::PayloadFormat::kCloudEvents;
  return core::PayloadFormat::kUnspecified;
}
absl::string_view BackoffName(core::BackoffKind b) {
  switch (b) {
    case core::BackoffKind::kHarbor: return "HARBOR";
    case core::BackoffKind::kExponential: return "EXPONENTIAL";
    case core::BackoffKind::kUnspecified: break;
  }
  return "";
}
core::BackoffKind ParseBackoff(absl::string_view s) {
  if (s == "HARBOR") return core::BackoffKind::kHarbor;
  if (s == "EXPONENTIAL") return core::BackoffKind::kExponential;
  return core::BackoffKind::kUnspecified;
}

// Appends `s` as a JSON string. Returns false (leaving `out` partly
// written) when `s` is not valid UTF-8, which JSON cannot carry and the
// decoder would reject.
bool AppendJsonString(std::string& out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: reject overlong forms, surrogates and code
    // points above U+10FFFF (RFC 3629).
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    out.append(s.data() + i, len);
    i += len;
  }
  out.push_back('"');
  return true;
}

// Writes the target object directly (no DOM): it is encoded once per
// delivery on the publish path. DecodeTarget reads it with nlohmann. With
// `secrets`, the auth_header and the signing secrets are sealed (a failure
// to seal is reported as `sealed` = false).
bool AppendTarget(std::string& out, const core::Target& t,
                  const SecretBox* secrets, absl::Status* sealed) {
  bool ok = true;
  auto field = [&](absl::string_view key, absl::string_view value) {
    out.push_back(',');
    out.append("\"").append(key.data(), key.size()).append("\":");
    ok = AppendJsonString(out, value) && ok;
  };
  auto secret = [&](absl::string_view key, const std::string& value) {
    if (secrets == nullptr || value.empty()) return field(key, value);
    std::string scratch;  // the same UTF-8 rule as for plaintext values
    if (!AppendJsonString(scratch, value)) ok = false;
    absl::StatusOr<std::string> s = secrets->Seal(value);
    if (!s.ok()) {
      *sealed = s.status();
      return field(key, "");
    }
    field(key, *s);
  };
  auto flag = [&](absl::string_view key, bool value) {
    out.append(",\"").append(key.data(), key.size()).append("\":");
    out.append(value ? "true" : "false");
  };
  out.append("{\"type\":");
  AppendJsonString(out, TargetTypeName(t.type));
  field("address", t.address);
  secret("auth_header", t.auth_header);
  flag("skip_cert_verify", t.skip_cert_verify);
  field("payload_format", FormatName(t.payload_format));
  secret("signing_secret", t.signing_secret);
  secret("previous_signing_secret", t.previous_signing_secret);
  out.append(",\"previous_secret_expire_time_us\":");
  out.append(std::to_string(TimeToMicros(t.previous_secret_expire_time)));
  out.append(",\"headers\":[");
  for (size_t i = 0; i < t.headers.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"name\":");
    ok = AppendJsonString(out, t.headers[i].name) && ok;
    out.append(",\"value\":");
    ok = AppendJsonString(out, t.headers[i].value) && ok;
    out.push_back('}');
  }
  out.push_back(']');
  flag("follow_redirects", t.follow_redirects);
  field("ca_bundle_pem", t.ca_bundle_pem);
  out.push_back('}');
  return ok;
}

absl::Status NotUtf8(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " contains text that is not valid UTF-8"));
}

// A secret field: opened with `secrets`; a sealed value without a
// SecretBox, or one that does not open, throws (mapped to an error status).
std::string SecretFrom(const json& j, const char* key,
                       const SecretBox* secrets) {
  std::string stored = j.value(key, std::string());
  if (!SecretBox::IsSealed(stored)) return stored;
  if (secrets == nullptr) {
    throw std::runtime_error(
        "a secret is encrypted but no secret key was configured");
  }
  absl::StatusOr<std::string> plain = secrets->Open(stored);
  if (!plain.ok()) throw std::runtime_error(std::string(plain.status().message()));
  return *std::move(plain);
}

core::Target TargetFrom(const json& j, const SecretBox* secrets) {
  core::Target t;
  t.type = ParseTargetType(j.value("type", std::string("HTTP")));
  t.address = j.value("address", std::string());
  t.auth_header = SecretFrom(j, "auth_header", secrets);
  t.skip_cert_verify = j.value("skip_cert_verify", false);
  t.payload_format = ParseFormat(j.value("payload_format", std::string()));
  t.signing_secret = SecretFrom(j, "signing_secret", secrets);
  t.previous_signing_secret =
      SecretFrom(j, "previous_signing_secret", secrets);
  t.previous_secret_expire_time = MicrosToTime(j.value(
      "previous_secret_expire_time_us", TimeToMicros(absl::InfinitePast())));
  if (auto it = j.find("headers"); it != j.end()) {
    for (const json& h : *it) {
      t.headers.push_back({h.at("name").get<std::string>(),
                           h.at("value").get<std::string>()});
    }
  }
  t.follow_redirects = j.value("follow_redirects", false);
  t.ca_bundle_pem = j.value("ca_bundle_pem", std::string());
  return t;
}

std::vector<std::string> Strings(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  return it->get<std::vector<std::string>>();
}

}  // namespace

absl::StatusOr<std::string> EncodeTarget(const core::Target& target,
                                         const SecretBox* secrets) {
  std::string out;
  out.reserve(256 + target.address.size() + target.ca_bundle_pem.size());
  absl::Status sealed;
  if (!AppendTarget(out, target, secrets, &sealed)) return NotUtf8("the target");
  if (!sealed.ok()) return sealed;
  return out;
}

absl::StatusOr<core::Target> DecodeTarget(absl::string_view text,
                                          const SecretBox* secrets) {
  return Parse(text, "target",
               [secrets](const json& j) { return TargetFrom(j, secrets); });
}

absl::StatusOr<std::string> EncodeTargets(
    const std::vector<core::Target>& targets, const SecretBox* secrets) {
  std::string out = "[";
  absl::Status sealed;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!AppendTarget(out, targets[i], secrets, &sealed)) {
      return NotUtf8("a target");
    }
  }
  if (!sealed.ok()) return sealed;
  out.push_back(']');
  return out;
}

absl::StatusOr<std::vector<core::Target>> DecodeTargets(
    absl::string_view text, const SecretBox* secrets) {
  return Parse(text, "targets", [secrets](const json& j) {
    std::vector<core::Target> targets;
    for (const json& t : j) targets.push_back(TargetFrom(t, secrets));
    return targets;
  });
}

namespace {
// Every secret field of a target as AppendTarget writes it.
constexpr absl::string_view kSecretFields[] = {"auth_header", "signing_secret",
                                               "previous_signing_secret"};
}  // namespace

bool TargetSecretsNeedReseal(absl::string_view text, const SecretBox& box) {
  for (absl::string_view name : kSecretFields) {
    const std::string f = absl::StrCat("\"", name, "\":\"");
    for (size_t at = text.find(f); at != absl::string_view::npos;
         at = text.find(f, at + f.size())) {
      const absl::string_view value = text.substr(at + f.size());
      if (value.substr(0, 1) == "\"") continue;  // empty
      if (!SecretBox::IsSealed(std::string_view(value.data(), value.size()))) {
        return true;  // plaintext
      }
      if (box.has_previous_keys()) {
        // Sealed values are base64 after the prefix: no escapes inside.
        const absl::string_view sealed = value.substr(0, value.find('"'));
        if (box.NeedsRewrap(std::string_view(sealed.data(), sealed.size()))) {
          return true;
        }
      }
    }
  }
  return false;
}

absl::StatusOr<std::string> ResealTarget(absl::string_view stored,
                                         const SecretBox& box) {
  absl::StatusOr<core::Target> target = DecodeTarget(stored, &box);
  if (!target.ok()) return target.status();
  return EncodeTarget(*target, &box);
}

std::string TargetHasSecretSql(absl::string_view column) {
  std::string sql = "(";
  for (absl::string_view name : kSecretFields) {
    if (sql.size() > 1) sql += " OR ";
    // '_' is a LIKE wildcard: escaped so the pattern is the literal text.
    absl::StrAppend(&sql, column, " NOT LIKE '%\"",
                    absl::StrReplaceAll(name, {{"_", "!_"}}),
                    "\":\"\"%' ESCAPE '!'");
  }
  sql += ")";
  return sql;
}

absl::StatusOr<std::string> EncodeStrings(const std::vector<std::string>& v) {
  return Dump(json(v), "a list of strings");
}

absl::StatusOr<std::vector<std::string>> DecodeStrings(absl::string_view text) {
  return Parse(text, "string list", [](const json& j) {
    return j.get<std::vector<std::string>>();
  });
}

std::string EncodeIds(const std::vector<int64_t>& ids) {
  return json(ids).dump();
}

absl::StatusOr<std::vector<int64_t>> DecodeIds(absl::string_view text) {
  return Parse(text, "id list",
               [](const json& j) { return j.get<std::vector<int64_t>>(); });
}

absl::StatusOr<std::string> EncodeFilters(const core::Filters& f) {
  return Dump({{"repository_patterns", f.repository_patterns},
               {"tag_patterns", f.tag_patterns},
               {"scan_statuses", f.scan_statuses},
               {"replication_statuses", f.replication_statuses}},
              "a filter");
}

absl::StatusOr<core::Filters> DecodeFilters(absl::string_view text) {
  return Parse(text, "filters", [](const json& j) {
    core::Filters f;
    f.repository_patterns = Strings(j, "repository_patterns");
    f.tag_patterns = Strings(j, "tag_patterns");
    f.scan_statuses = Strings(j, "scan_statuses");
    f.replication_statuses = Strings(j, "replication_statuses");
    return f;
  });
}

std::string EncodeRetryPolicy(const core::RetryPolicy& r) {
  return json{{"max_attempts", r.max_attempts},
              {"backoff", BackoffName(r.backoff)},
              {"initial_backoff_us", absl::ToInt64Microseconds(r.initial_backoff)},
              {"max_backoff_us", absl::ToInt64Microseconds(r.max_backoff)},
              {"http_timeout_us", absl::ToInt64Microseconds(r.http_timeout)}}
      .dump();
}

absl::StatusOr<core::RetryPolicy> DecodeRetryPolicy(absl::string_view text) {
  return Parse(text, "retry policy", [](const json& j) {
    core::RetryPolicy r;
    r.max_attempts = j.value("max_attempts", 0);
    r.backoff = ParseBackoff(j.value("backoff", std::string()));
    r.initial_backoff =
        absl::Microseconds(j.value("initial_backoff_us", int64_t{0}));
    r.max_backoff = absl::Microseconds(j.value("max_backoff_us", int64_t{0}));
    r.http_timeout = absl::Microseconds(j.value("http_timeout_us", int64_t{0}));
    return r;
  });
}

}  // namespace herald::store::sqlite
