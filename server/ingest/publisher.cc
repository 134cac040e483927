#include "server/ingest/publisher.h"

#include "server/core/event_validation.h"
#include "server/core/errors.h"
#include "server/core/status_macros.h"
#include "server/render/render.h"
#include "server/render/uuid.h"

namespace herald::ingest {
namespace {

core::MatchInput MatchInputOf(const core::Event& event) {
  core::MatchInput input;
  input.project_id = event.project_id;
  input.event_type = event.event_type;
  if (event.repository.has_value()) {
    input.repo_full_name = event.repository->repo_full_name;
  }
  for (const core::Resource& r : event.resources) {
    if (!r.tag.empty()) input.tags.push_back(r.tag);
    for (const auto& [mime, summary] : r.scan_overview) {
      if (input.scan_status.empty()) input.scan_status = summary.scan_status;
    }
    if (input.scan_status.empty() && r.sbom_overview.has_value() &&
        r.sbom_overview->scan_status.has_value()) {
      input.scan_status = *r.sbom_overview->scan_status;
    }
  }
  if (event.replication.has_value()) {
    input.replication_status = event.replication->job_status;
  }
  return input;
}

// INVALID_ARGUMENT with a field violation per problem.
absl::Status Validate(const core::Event& event) {
  std::vector<core::FieldViolation> violations = core::ValidateEvent(event);
  if (violations.empty()) return absl::OkStatus();
  return core::InvalidFieldsError(violations);
}

int MaxAttempts(const core::Policy& policy, const core::Settings& settings) {
  return policy.retry_policy.max_attempts > 0
             ? policy.retry_policy.max_attempts
             : settings.webhook_job_max_retry;
}

}  // namespace

absl::StatusOr<store::NewEvent> Publisher::Prepare(
    PublishRequest& request, const MatchSnapshot& snapshot) {
  core::Event& event = request.event;
  const absl::Time now = clock_->Now();
  core::DeriveDefaults(event, registry_endpoint_, now);
  HERALD_RETURN_IF_ERROR(Validate(event));
  // The CloudEvents requestid: the producer's, else the idempotency key,
  // else a fresh id (Harbor generates one when the client sent none).
  if (event.request_id.empty()) {
    event.request_id =
        request.request_id.empty() ? render::NewUuidV4() : request.request_id;
  }

  store::NewEvent out;
  out.event.project_id = event.project_id;
  out.event.event_type = event.event_type;
  out.event.request_id = request.request_id;
  out.event.operator_name = event.operator_name;
  out.event.occur_time = *event.occur_time;
  out.idempotency_scope = std::to_string(request.token_id);
  out.request_id = request.request_id;
  HERALD_ASSIGN_OR_RETURN(
      render::RenderedPayload canonical,
      render::Render(event, core::TargetType::kHttp,
                     core::PayloadFormat::kDefault, {}));
  out.event.data = std::move(canonical.body);

  for (const core::Policy* policy : snapshot.Match(MatchInputOf(event))) {
    for (size_t i = 0; i < policy->targets.size(); ++i) {
      const core::Target& target = policy->targets[i];
      std::string webhook_id = render::NewUuidV4();
      HERALD_ASSIGN_OR_RETURN(
          render::RenderedPayload payload,
          render::Render(event, target.type, target.payload_format,
                         render::CloudEventsContext::For(event, policy->id,
                                                         webhook_id)));
      store::NewDelivery delivery;
      delivery.policy_id = policy->id;
      delivery.target_index = static_cast<int>(i);
      delivery.target = target;
      delivery.vendor_type = core::VendorTypeFor(target.type);
      delivery.payload = std::move(payload.body);
      delivery.content_type = std::move(payload.content_type);
      delivery.webhook_id = std::move(webhook_id);
      delivery.max_attempts = MaxAttempts(*policy, snapshot.settings);
      delivery.due_time = now;
      out.deliveries.push_back(std::move(delivery));
    }
  }
  return out;
}

void Publisher::Publish(PublishRequest request, PublishCallback done) {
  absl::StatusOr<std::shared_ptr<const MatchSnapshot>> snapshot = cache_->Get();
  if (!snapshot.ok()) {
    std::move(done)(snapshot.status());
    return;
  }
  if (!(*snapshot)->settings.notification_enable) {
    // Harbor's global switch: acknowledged, nothing created.
    core::DeriveDefaults(request.event, registry_endpoint_, clock_->Now());
    if (absl::Status valid = Validate(request.event); !valid.ok()) {
      std::move(done)(valid);
      return;
    }
    metrics_->EventDropped();
    std::move(done)(PublishResult{0, 0, false, true});
    return;
  }
  absl::StatusOr<store::NewEvent> prepared = Prepare(request, **snapshot);
  if (!prepared.ok()) {
    std::move(done)(prepared.status());
    return;
  }
  std::vector<store::NewEvent> batch;
  batch.push_back(*std::move(prepared));
  store_->CommitEventsAsync(
      std::move(batch),
      [this, done = std::move(done)](
          absl::StatusOr<std::vector<store::CommittedEvent>> committed) mutable {
        if (!committed.ok()) {
          std::move(done)(committed.status());
          return;
        }
        const store::CommittedEvent& result = committed->front();
        if (!result.status.ok()) {
          std::move(done)(result.status);
          return;
        }
        if (!result.duplicate) {
          metrics_->EventPublished();
          metrics_->DeliveriesCreated(result.deliveries_created);
        }
        if (result.deliveries_created > 0) store_->NotifyWork();  // dispatcher
        std::move(done)(PublishResult{result.event_id,
                                      result.deliveries_created,
                                      result.duplicate, false});
      });
}

}  // namespace herald::ingest
