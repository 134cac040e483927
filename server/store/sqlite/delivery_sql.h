// Helpers shared by sqlite_store.cc (CommitEvents) and sqlite_delivery.cc
// (the delivery engine's claims, results, redelivery and retention).
#ifndef HERALD_SERVER_STORE_SQLITE_DELIVERY_SQL_H_
#define HERALD_SERVER_STORE_SQLITE_DELIVERY_SQL_H_

#include <string>
#include <string_view>

#include "server/core/policy.h"

namespace herald::store::sqlite {

// The concurrency key of a target (see store.h, "Concurrency keys"):
// "scheme://host:port" of an HTTP target with the scheme and host
// lower-cased, userinfo, path, query and fragment dropped and the default
// port (80/443) filled in; IPv6 hosts keep their brackets. The same
// normalisation as delivery::EndpointKey. A Slack target's key is its
// address verbatim: Slack is paced per webhook URL. An address that is not
// an absolute URL is returned lower-cased (validation refuses those).
std::string EndpointKeyOf(const core::Target& target);
std::string HttpEndpointKey(std::string_view url);

}  // namespace herald::store::sqlite

#endif  // HERALD_SERVER_STORE_SQLITE_DELIVERY_SQL_H_
