#include "server/api/policy_convert.h"

#include "server/api/proto_time.h"

namespace herald::api {
namespace {

template <typename T>
std::vector<std::string> Strings(const T& repeated) {
  return {repeated.begin(), repeated.end()};
}

}  // namespace

core::Target TargetFromProto(const v1::Target& proto) {
  core::Target t;
  t.type = static_cast<core::TargetType>(proto.type());
  t.address = proto.address();
  t.auth_header = proto.auth_header();
  t.skip_cert_verify = proto.skip_cert_verify();
  t.payload_format = static_cast<core::PayloadFormat>(proto.payload_format());
  t.signing_secret = proto.signing_secret();
  for (const v1::Header& h : proto.headers()) {
    t.headers.push_back({h.name(), h.value()});
  }
  t.follow_redirects = proto.follow_redirects();
  t.ca_bundle_pem = proto.ca_bundle_pem();
  return t;
}

core::Filters FiltersFromProto(const v1::Filters& proto) {
  core::Filters f;
  f.repository_patterns = Strings(proto.repository_patterns());
  f.tag_patterns = Strings(proto.tag_patterns());
  f.scan_statuses = Strings(proto.scan_statuses());
  f.replication_statuses = Strings(proto.replication_statuses());
  return f;
}

core::RetryPolicy RetryPolicyFromProto(const v1::RetryPolicy& proto) {
  core::RetryPolicy r;
  r.max_attempts = proto.max_attempts();
  r.backoff = static_cast<core::BackoffKind>(proto.backoff());
  r.initial_backoff = FromProto(proto.initial_backoff());
  r.max_backoff = FromProto(proto.max_backoff());
  r.http_timeout = FromProto(proto.http_timeout());
  return r;
}

core::Policy PolicyFromProto(const v1::Policy& proto) {
  core::Policy p;
  p.project_id = proto.project_id();
  p.name = proto.name();
  p.description = proto.description();
  for (const v1::Target& t : proto.targets()) {
    p.targets.push_back(TargetFromProto(t));
  }
  p.event_types = Strings(proto.event_types());
  p.filters = FiltersFromProto(proto.filters());
  p.retry_policy = RetryPolicyFromProto(proto.retry_policy());
  p.enabled = proto.has_enabled() ? proto.enabled() : true;
  return p;
}

v1::Target TargetToProto(const core::Target& t) {
  v1::Target out;
  out.set_type(static_cast<v1::TargetType>(t.type));
  out.set_address(t.address);
  out.set_has_auth_header(!t.auth_header.empty());
  out.set_skip_cert_verify(t.skip_cert_verify);
  out.set_payload_format(static_cast<v1::PayloadFormat>(t.payload_format));
  out.set_has_signing_secret(!t.signing_secret.empty());
  if (!t.previous_signing_secret.empty()) {
    SetTimeIfSet(t.previous_secret_expire_time, [&] { return out.mutable_previous_secret_expire_time(); });
  }
  for (const core::Header& h : t.headers) {
    v1::Header* header = out.add_headers();
    header->set_name(h.name);
    header->set_value(h.value);
  }
  out.set_follow_redirects(t.follow_redirects);
  out.set_ca_bundle_pem(t.ca_bundle_pem);
  return out;
}

v1::Policy PolicyToProto(const core::Policy& p) {
  v1::Policy out;
  out.set_id(p.id);
  out.set_project_id(p.project_id);
  out.set_name(p.name);
  out.set_description(p.description);
  for (const core::Target& t : p.targets) {
    *out.add_targets() = TargetToProto(t);
  }
  for (const std::string& e : p.event_types) out.add_event_types(e);
  v1::Filters* f = out.mutable_filters();
  for (const auto& s : p.filters.repository_patterns) f->add_repository_patterns(s);
  for (const auto& s : p.filters.tag_patterns) f->add_tag_patterns(s);
  for (const auto& s : p.filters.scan_statuses) f->add_scan_statuses(s);
  for (const auto& s : p.filters.replication_statuses) f->add_replication_statuses(s);
  v1::RetryPolicy* r = out.mutable_retry_policy();
  r->set_max_attempts(p.retry_policy.max_attempts);
  r->set_backoff(static_cast<v1::BackoffKind>(p.retry_policy.backoff));
  *r->mutable_initial_backoff() = ToProto(p.retry_policy.initial_backoff);
  *r->mutable_max_backoff() = ToProto(p.retry_policy.max_backoff);
  *r->mutable_http_timeout() = ToProto(p.retry_policy.http_timeout);
  out.set_enabled(p.enabled);
  out.set_creator(p.creator);
  *out.mutable_create_time() = ToProto(p.create_time);
  *out.mutable_update_time() = ToProto(p.update_time);
  return out;
}

}  // namespace herald::api
