#include "server/api/admin_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/api/audit.h"
#include "server/api/admin_convert.h"
#include "server/api/pagination.h"
#include "server/api/proto_time.h"
#include "server/auth/permissions.h"
#include "server/auth/token_secret.h"
#include "server/core/page_token.h"
#include "server/core/settings_validation.h"
#include "server/core/status_macros.h"

namespace herald::api {
namespace {

constexpr size_t kMaxTokenNameBytes = 128;

// Field checks of a CreateTokenRequest, beyond what the store enforces.
std::vector<core::FieldViolation> ValidateNewToken(
    const v1::Token& token, absl::Time now,
    const std::vector<core::TokenRecord>& existing) {
  std::vector<core::FieldViolation> violations;
  if (token.name().empty() || token.name().size() > kMaxTokenNameBytes) {
    violations.push_back({"token.name", "required, 1 to 128 bytes"});
  } else if (std::any_of(existing.begin(), existing.end(),
                         [&](const core::TokenRecord& t) {
                           return !t.revoked && t.name == token.name();
                         })) {
    violations.push_back(
        {"token.name", absl::StrCat("a live token is already named \"",
                                    token.name(), "\"")});
  }
  switch (token.role()) {
    case v1::ROLE_SYSTEM_ADMIN:
      if (token.project_ids_size() > 0) {
        violations.push_back(
            {"token.project_ids", "must be empty for ROLE_SYSTEM_ADMIN"});
      }
      break;
    case v1::ROLE_PROJECT_ADMIN:
    case v1::ROLE_MAINTAINER:
      if (token.project_ids_size() == 0) {
        violations.push_back(
            {"token.project_ids", "required for project roles"});
      }
      break;
    case v1::ROLE_PUBLISHER:
      break;
    default:
      violations.push_back(
          {"token.role",
           "required: ROLE_SYSTEM_ADMIN, ROLE_PROJECT_ADMIN, "
           "ROLE_MAINTAINER or ROLE_PUBLISHER"});
  }
  for (int i = 0; i < token.project_ids_size(); ++i) {
    if (token.project_ids(i) <= 0) {
      violations.push_back({absl::StrCat("token.project_ids[", i, "]"),
                            "must be positive"});
    }
  }
  if (token.project_ids_size() > 1000) {
    violations.push_back({"token.project_ids", "at most 1000 projects"});
  }
  if (token.has_expire_time() && FromProto(token.expire_time()) <= now) {
    violations.push_back({"token.expire_time", "must be in the future"});
  }
  return violations;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::GetSettings(
    grpc::CallbackServerContext* context, const v1::GetSettingsRequest*,
    v1::GetSettingsResponse* response) {
  return HandleUnary(context, services_,
                     [this, response](const auth::Caller&) {
                       HERALD_ASSIGN_OR_RETURN(core::Settings settings,
                                               services_.store->GetSettings());
                       *response->mutable_settings() = SettingsToProto(settings);
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* AdminServiceImpl::UpdateSettings(
    grpc::CallbackServerContext* context,
    const v1::UpdateSettingsRequest* request,
    v1::UpdateSettingsResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_RETURN_IF_ERROR(auth::RequireSystemAdmin(caller));
    HERALD_ASSIGN_OR_RETURN(core::Settings current,
                            services_.store->GetSettings());
    HERALD_ASSIGN_OR_RETURN(core::Settings updated,
                            ApplySettingsUpdate(current, *request));
    std::vector<core::FieldViolation> violations =
        core::ValidateSettings(updated);
    if (!violations.empty()) return core::InvalidFieldsError(violations);
    HERALD_RETURN_IF_ERROR(services_.store->PutSettings(updated));
    services_.match_cache->Invalidate();
    Audit(caller, "UpdateSettings", "settings", 0,
          {{"update_mask", absl::StrJoin(request->update_mask().paths(), ",")},
           {"notification_enable", updated.notification_enable},
           {"webhook_job_max_retry", updated.webhook_job_max_retry},
           {"webhook_job_http_client_timeout",
            updated.webhook_job_http_client_timeout},
           {"execution_retention_count", updated.execution_retention_count}});
    *response->mutable_settings() = SettingsToProto(updated);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateToken(
    grpc::CallbackServerContext* context,
    const v1::CreateTokenRequest* request,
    v1::CreateTokenResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_RETURN_IF_ERROR(auth::RequireSystemAdmin(caller));
    HERALD_ASSIGN_OR_RETURN(std::vector<core::TokenRecord> existing,
                            services_.store->ListTokens());
    const v1::Token& in = request->token();
    std::vector<core::FieldViolation> violations =
        ValidateNewToken(in, services_.clock->Now(), existing);
    if (!violations.empty()) return core::InvalidFieldsError(violations);

    std::string secret = auth::GenerateTokenSecret();
    core::TokenRecord record;
    record.name = in.name();
    record.role = static_cast<core::Role>(in.role());
    record.project_ids.assign(in.project_ids().begin(), in.project_ids().end());
    record.secret_hash = auth::HashTokenSecret(secret);
    record.creator = caller.name;
    if (in.has_expire_time()) record.expire_time = FromProto(in.expire_time());
    HERALD_ASSIGN_OR_RETURN(core::TokenRecord created,
                            services_.store->CreateToken(record));
    Audit(caller, "CreateToken", "token", created.id,
          {{"name", created.name},
           {"role", v1::Role_Name(static_cast<v1::Role>(created.role))},
           {"project_ids", absl::StrJoin(created.project_ids, ",")}});
    *response->mutable_token() = TokenToProto(created);
    response->set_secret(secret);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTokens(
    grpc::CallbackServerContext* context, const v1::ListTokensRequest* request,
    v1::ListTokensResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_RETURN_IF_ERROR(auth::RequireSystemAdmin(caller));
    HERALD_ASSIGN_OR_RETURN(
        PageCursor cursor,
        StartPage(request->page_size(), request->page_token(),
                  core::QueryFingerprint(
                      {"tokens", request->show_revoked() ? "1" : "0"})));
    HERALD_ASSIGN_OR_RETURN(std::vector<core::TokenRecord> tokens,
                            services_.store->ListTokens());
    std::vector<const core::TokenRecord*> shown;
    for (const core::TokenRecord& t : tokens) {
      if (request->show_revoked() || !t.revoked) shown.push_back(&t);
    }
    const int64_t total = static_cast<int64_t>(shown.size());
    const int64_t end =
        std::min<int64_t>(total, cursor.page.offset + cursor.page.limit);
    for (int64_t i = cursor.page.offset; i < end; ++i) {
      *response->add_tokens() = TokenToProto(*shown[i]);
    }
    response->set_total_size(total);
    response->set_next_page_token(
        cursor.NextToken(std::max<int64_t>(0, end - cursor.page.offset), total));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeToken(
    grpc::CallbackServerContext* context, const v1::RevokeTokenRequest* request,
    v1::RevokeTokenResponse*) {
  return HandleUnary(context, services_, [this, request](
                                             const auth::Caller& caller) {
    HERALD_RETURN_IF_ERROR(auth::RequireSystemAdmin(caller));
    absl::Status status = services_.store->RevokeToken(request->id());
    if (status.ok()) Audit(caller, "RevokeToken", "token", request->id());
    if (absl::IsNotFound(status)) {
      return core::NotFoundError("token", request->id());
    }
    return status;
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetServerInfo(
    grpc::CallbackServerContext* context, const v1::GetServerInfoRequest*,
    v1::GetServerInfoResponse* response) {
  return HandleUnary(context, services_, [this, response](
                                             const auth::Caller& caller) {
    response->set_version(services_.version);
    response->set_store_kind(services_.store_kind);
    *response->mutable_start_time() = ToProto(services_.start_time);
    response->set_registry_endpoint(services_.registry_endpoint);
    v1::Token* me = response->mutable_caller();
    me->set_id(caller.token_id);
    me->set_name(caller.name);
    me->set_role(static_cast<v1::Role>(caller.role));
    for (int64_t p : caller.project_ids) me->add_project_ids(p);
    return absl::OkStatus();
  });
}

}  // namespace herald::api
