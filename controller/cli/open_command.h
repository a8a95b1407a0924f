#pragma once

#include <iosfwd>
#include <string>

#include "controller/client/api_client.h"

namespace visi {

// `visictl open NAME`: asks the API for a one-time login URL to the
// session (POST .../visisessions/NAME/login) and prints it (-o url, the
// default: the URL alone on stdout, so `xdg-open "$(visictl open nb)"`
// works), or the whole answer (-o json|yaml).
int RunOpen(ApiClient& client, const std::string& ns, const std::string& name, const std::string& output,
            std::ostream& out, std::ostream& err);

}  // namespace visi
