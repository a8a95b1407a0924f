#pragma once

#include <chrono>
#include <string>

#include "controller/api/object.h"
#include "controller/base/clock.h"
#include "controller/base/statusor.h"
#include "controller/store/store.h"

namespace visi {

// One-time logins to a session through the router (docs/routing.md):
//
//   IssueLogin   (the API's POST .../visisessions/NAME/login, `visictl open`)
//                makes a random ticket, stores a SessionLogin holding only its
//                SHA-256, and returns the login URL with the ticket in it.
//   RedeemLogin  (visid's endpoint behind HAProxy, /_visi/login/NS/NAME)
//                checks the ticket, makes a random JSESSIONID cookie and
//                records its SHA-256 in the login's status. The store's
//                resourceVersion check makes the redemption happen once.
//
// Secrets come from OpenSSL's RAND_bytes: 32 bytes, as 64 hex digits.

inline constexpr char kLoginPathPrefix[] = "/_visi/login/";
inline constexpr std::chrono::seconds kDefaultLoginTtl{300};
// Unused, unexpired login links a session may have at once.
inline constexpr int kMaxOpenLogins = 32;

// What the login call answers (JSON, kind SessionLoginTicket):
//   {"apiVersion", "kind": "SessionLoginTicket", "metadata": {name, namespace},
//    "session", "url", "expiresTime"}
// Errors: kNotFound (no such session), kConflict (the session is being
// deleted, or has kMaxOpenLogins unused links), kUnavailable (no router URL
// configured), store errors.
StatusOr<Json> IssueLogin(Store* store, const std::string& ns, const std::string& session,
                          const std::string& router_url, std::chrono::seconds ttl, TimePoint now);

struct RedeemedLogin {
  std::string cookie;        // the JSESSIONID value: handed to the browser, never stored
  std::string cookie_hash;   // CookieHash(cookie), as stored and routed
  std::string session_key;   // "namespace/name"
};

// Errors, each with a message for the person who clicked the link:
//   kBadRequest  the ticket or the path is malformed
//   kNotFound    no login has this ticket (or it names another session)
//   kGone        the ticket was used already, or has expired
//   kNotFound    the session is gone (or is a newer session of that name)
StatusOr<RedeemedLogin> RedeemLogin(Store* store, const std::string& ns, const std::string& session,
                                    const std::string& ticket, TimePoint now);

// The SessionLogin name of a ticket hash: "login-" + 32 hex digits of it.
std::string LoginObjectName(const std::string& ticket_hash);

// 32 random bytes from OpenSSL as 64 lower-case hex digits.
StatusOr<std::string> RandomSecret();

}  // namespace visi
