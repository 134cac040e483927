#include "server/api/policy_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/api/audit.h"
#include "server/api/policy_convert.h"
#include "server/api/pagination.h"
#include "server/api/policy_update.h"
#include "server/auth/permissions.h"
#include "server/core/event.h"
#include "server/core/page_token.h"
#include "server/core/policy_validation.h"
#include "server/core/status_macros.h"

namespace herald::api {
namespace {

constexpr size_t kMaxRequestIdBytes = 128;

// Defaults, validation and normalisation shared by create and update.
absl::Status PreparePolicy(core::Policy& policy,
                           std::vector<core::FieldViolation> violations,
                           const common::AddressRules& address_rules) {
  core::ApplyPolicyDefaults(policy);
  std::vector<core::FieldViolation> more =
      core::ValidatePolicy(policy, core::KnownEventTypes(), address_rules);
  violations.insert(violations.end(), more.begin(), more.end());
  if (!violations.empty()) return core::InvalidFieldsError(violations);
  for (size_t i = 0; i < policy.targets.size(); ++i) {
    absl::StatusOr<std::string> address =
        core::NormalizeAddress(policy.targets[i].address);
    if (!address.ok()) {
      return core::InvalidFieldError(
          absl::StrCat("policy.targets[", i, "].address"),
          std::string(address.status().message()));
    }
    policy.targets[i].address = *std::move(address);
  }
  return absl::OkStatus();
}

absl::StatusOr<core::Policy> LoadAuthorized(store::Store& store,
                                            const auth::Caller& caller,
                                            int64_t id, auth::Access access) {
  if (id <= 0) return core::InvalidFieldError("id", "must be positive");
  absl::StatusOr<core::Policy> policy = store.GetPolicy(id);
  if (absl::IsNotFound(policy.status())) {
    return core::NotFoundError("policy", id);
  }
  if (!policy.ok()) return policy.status();
  HERALD_RETURN_IF_ERROR(auth::Authorize(caller, access, policy->project_id));
  return policy;
}

}  // namespace

grpc::ServerUnaryReactor* PolicyServiceImpl::CreatePolicy(
    grpc::CallbackServerContext* context,
    const v1::CreatePolicyRequest* request,
    v1::CreatePolicyResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    const v1::Policy& in = request->policy();
    if (in.project_id() < 0) {
      return core::InvalidFieldError("policy.project_id",
                                     "must be 0 (system-wide) or positive");
    }
    HERALD_RETURN_IF_ERROR(
        auth::Authorize(caller, auth::Access::kManage, in.project_id()));
    std::vector<core::FieldViolation> violations;
    CheckPolicyEnums(in, &violations);
    if (request->request_id().size() > kMaxRequestIdBytes) {
      violations.push_back({"request_id", "at most 128 bytes"});
    }
    core::Policy policy = PolicyFromProto(in);
    HERALD_RETURN_IF_ERROR(
        PreparePolicy(policy, std::move(violations), services_.address_rules));
    policy.creator = caller.name;
    HERALD_ASSIGN_OR_RETURN(
        core::Policy created,
        services_.store->CreatePolicy(policy, absl::StrCat(caller.token_id),
                                      request->request_id()));
    services_.match_cache->Invalidate();
    Audit(caller, "CreatePolicy", "policy", created.id,
          {{"project_id", created.project_id}, {"name", created.name}});
    *response->mutable_policy() = PolicyToProto(created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::GetPolicy(
    grpc::CallbackServerContext* context, const v1::GetPolicyRequest* request,
    v1::GetPolicyResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(
        core::Policy policy,
        LoadAuthorized(*services_.store, caller, request->id(),
                       auth::Access::kRead));
    *response->mutable_policy() = PolicyToProto(policy);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ListPolicies(
    grpc::CallbackServerContext* context,
    const v1::ListPoliciesRequest* request,
    v1::ListPoliciesResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    store::PolicyQuery query;
    if (request->has_project_id()) {
      HERALD_RETURN_IF_ERROR(
          auth::Authorize(caller, auth::Access::kRead, request->project_id()));
      query.project_ids = {request->project_id()};
    } else {
      std::optional<std::vector<int64_t>> readable =
          auth::ReadableProjects(caller);
      if (readable.has_value()) {
        if (readable->empty()) {
          // Publishers read nothing: say so rather than list nothing.
          return auth::Authorize(caller, auth::Access::kRead, 0);
        }
        query.project_ids = *readable;
      }
    }
    query.name_contains = request->name_contains();
    if (request->has_enabled()) query.enabled = request->enabled();
    query.event_type = request->event_type();

    const uint64_t fingerprint = core::QueryFingerprint(
        {"policies", request->has_project_id()
                         ? absl::StrCat(request->project_id())
                         : std::string("*"),
         query.name_contains,
         request->has_enabled() ? (request->enabled() ? "1" : "0") : "*",
         query.event_type, absl::StrCat(caller.token_id)});
    HERALD_ASSIGN_OR_RETURN(
        PageCursor cursor,
        StartPage(request->page_size(), request->page_token(), fingerprint));
    query.page = cursor.page;
    HERALD_ASSIGN_OR_RETURN(store::PolicyList list,
                            services_.store->ListPolicies(query));
    for (const core::Policy& p : list.policies) {
      *response->add_policies() = PolicyToProto(p);
    }
    response->set_total_size(list.total_size);
    response->set_next_page_token(
        cursor.NextToken(list.policies.size(), list.total_size));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::UpdatePolicy(
    grpc::CallbackServerContext* context,
    const v1::UpdatePolicyRequest* request,
    v1::UpdatePolicyResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(
        core::Policy stored,
        LoadAuthorized(*services_.store, caller, request->policy().id(),
                       auth::Access::kManage));
    if (request->policy().project_id() != 0 &&
        request->policy().project_id() != stored.project_id) {
      return core::InvalidFieldError("policy.project_id",
                                     "is immutable; create a new policy");
    }
    std::vector<core::FieldViolation> violations;
    CheckPolicyEnums(request->policy(), &violations);
    HERALD_ASSIGN_OR_RETURN(
        core::Policy updated,
        ApplyPolicyUpdate(stored, *request, services_.clock->Now()));
    HERALD_RETURN_IF_ERROR(PreparePolicy(updated, std::move(violations),
                                         services_.address_rules));
    HERALD_ASSIGN_OR_RETURN(core::Policy saved,
                            services_.store->UpdatePolicy(updated));
    services_.match_cache->Invalidate();
    Audit(caller, "UpdatePolicy", "policy", saved.id,
          {{"project_id", saved.project_id},
           {"update_mask", absl::StrJoin(request->update_mask().paths(), ",")}});
    *response->mutable_policy() = PolicyToProto(saved);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::DeletePolicy(
    grpc::CallbackServerContext* context,
    const v1::DeletePolicyRequest* request,
    v1::DeletePolicyResponse* response) {
  return HandleUnary(context, services_, [this, request](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(
        core::Policy stored,
        LoadAuthorized(*services_.store, caller, request->id(),
                       auth::Access::kManage));
    HERALD_RETURN_IF_ERROR(services_.store->DeletePolicy(stored.id));
    services_.match_cache->Invalidate();
    Audit(caller, "DeletePolicy", "policy", stored.id,
          {{"project_id", stored.project_id}, {"name", stored.name}});
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ListEventTypes(
    grpc::CallbackServerContext* context,
    const v1::ListEventTypesRequest* request,
    v1::ListEventTypesResponse* response) {
  return HandleUnary(context, services_, [response](const auth::Caller&) {
    for (const std::string& type : core::KnownEventTypes()) {
      v1::EventTypeInfo* info = response->add_event_types();
      info->set_event_type(type);
      info->set_cloudevents_type(std::string(core::CloudEventsType(type).value_or("")));
    }
    response->add_target_types(v1::TARGET_TYPE_HTTP);
    response->add_target_types(v1::TARGET_TYPE_SLACK);
    v1::TargetPayloadFormats* http = response->add_payload_formats();
    http->set_target_type(v1::TARGET_TYPE_HTTP);
    http->add_formats(v1::PAYLOAD_FORMAT_DEFAULT);
    http->add_formats(v1::PAYLOAD_FORMAT_CLOUDEVENTS);
    response->add_payload_formats()->set_target_type(v1::TARGET_TYPE_SLACK);
    return absl::OkStatus();
  });
}

}  // namespace herald::api
