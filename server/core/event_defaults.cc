// DeriveDefaults() and the registry URL helpers (declared in
// event_validation.h).
#include <string>
#include <string_view>

#include "server/core/event.h"
#include "server/core/event_validation.h"

namespace herald::core {
namespace {

std::string Concat(std::string_view a, std::string_view b, std::string_view c,
                   std::string_view d) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size() + d.size());
  out.append(a).append(b).append(c).append(d);
  return out;
}

}  // namespace

std::string RegistryAuthority(std::string_view endpoint) {
  if (size_t scheme = endpoint.find("://"); scheme != std::string_view::npos) {
    endpoint.remove_prefix(scheme + 3);
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  return std::string(endpoint);
}

std::string RegistryHostname(std::string_view endpoint) {
  std::string authority = RegistryAuthority(endpoint);
  return authority.substr(0, authority.find(':'));
}

std::string ResourceUrl(std::string_view endpoint,
                        std::string_view repo_full_name,
                        std::string_view reference) {
  return Concat(RegistryAuthority(endpoint), "/", repo_full_name,
                IsDigestReference(reference) ? "@" : ":") +
         std::string(reference);
}

void DeriveDefaults(Event& event, std::string_view registry_endpoint) {
  if (event.repository) {
    Repository& repo = *event.repository;
    if (!repo.repo_full_name.empty()) {
      const size_t slash = repo.repo_full_name.find('/');
      if (slash != std::string::npos) {
        if (repo.name.empty())
          repo.name = repo.repo_full_name.substr(slash + 1);
        if (repo.namespace_name.empty()) {
          repo.namespace_name = repo.repo_full_name.substr(0, slash);
        }
      }
    } else if (!repo.namespace_name.empty() && !repo.name.empty()) {
      repo.repo_full_name = Concat(repo.namespace_name, "/", repo.name, "");
    }
  }
  const std::string_view type = event.event_type;
  const bool artifact = IsArtifactEvent(type);
  if (artifact || IsScanningEvent(type)) {
    const std::string repo_full_name =
        event.repository ? event.repository->repo_full_name : std::string();
    for (Resource& r : event.resources) {
      if (artifact && r.tag.empty()) r.tag = r.digest;
      const std::string& reference = r.tag.empty() ? r.digest : r.tag;
      if (r.resource_url.empty() && !registry_endpoint.empty() &&
          !repo_full_name.empty() && !reference.empty()) {
        r.resource_url =
            ResourceUrl(registry_endpoint, repo_full_name, reference);
      }
    }
  }
  if (!registry_endpoint.empty()) {
    if (event.replication && event.replication->harbor_hostname.empty()) {
      event.replication->harbor_hostname = RegistryHostname(registry_endpoint);
    }
    if (event.retention && event.retention->harbor_hostname.empty()) {
      event.retention->harbor_hostname = RegistryHostname(registry_endpoint);
    }
  }
}

void DeriveDefaults(Event& event, std::string_view registry_endpoint,
                    absl::Time now) {
  if (!event.occur_time) event.occur_time = now;
  DeriveDefaults(event, registry_endpoint);
}

}  // namespace herald::core
