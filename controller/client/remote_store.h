#pragma once

#include <memory>

#include "controller/api/scheme.h"
#include "controller/client/api_client.h"
#include "controller/store/store.h"

namespace visi {

// The Store interface over the REST API of a visid: what visictl and
// remote controllers use, with the same semantics as a local store (errors
// come back as the same codes). Thread-safe.
std::unique_ptr<Store> NewRemoteStore(std::shared_ptr<ApiClient> client,
                                      std::shared_ptr<const Scheme> scheme);

}  // namespace visi
