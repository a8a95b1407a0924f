#include "reconcilers/route/login.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "controller/api/names.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/route/route_desired.h"

namespace visi {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsLowerHex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Str(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

StatusOr<std::string> RandomSecret() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return InternalError("OpenSSL RAND_bytes failed: no secure random bytes");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  OPENSSL_cleanse(raw, sizeof raw);
  return out;
}

std::string LoginObjectName(const std::string& ticket_hash) { return "login-" + Lower(ticket_hash.substr(0, 32)); }

StatusOr<Json> IssueLogin(Store* store, const std::string& ns, const std::string& session,
                          const std::string& router_url, std::chrono::seconds ttl, TimePoint now) {
  if (router_url.empty()) {
    return UnavailableError("no router is configured: visid issues login URLs when it runs the route controller "
                            "(or is given --router-url)");
  }
  VISI_ASSIGN_OR_RETURN(ObjectPtr s, store->Get("VisiSession", ns, session));
  if (s->metadata.deletion_timestamp) {
    return ConflictError("visisessions \"" + session + "\" is being deleted: no new logins");
  }
  // Open tickets are bounded: each costs a stored object until it expires.
  ListOptions lo;
  lo.kind = "SessionLogin";
  lo.namespace_ = ns;
  VISI_ASSIGN_OR_RETURN(lo.labels, LabelSelector::Parse("visi.dev/session=" + session));
  VISI_ASSIGN_OR_RETURN(ListResult existing, store->List(lo));
  int open = 0;
  for (const auto& l : existing.items) {
    auto expires = ParseRfc3339(Str(l->spec, "expiresTime"));
    if (Str(l->status, "redeemedTime").empty() && expires && *expires >= now) ++open;
  }
  if (open >= kMaxOpenLogins) {
    return ConflictError("visisessions \"" + session + "\" has " + std::to_string(open) +
                         " unused login links (the most it keeps): use one, or wait until they expire");
  }
  VISI_ASSIGN_OR_RETURN(std::string ticket, RandomSecret());
  const std::string hash = CookieHash(ticket);
  Object login;
  login.kind = "SessionLogin";
  login.metadata.namespace_ = ns;
  login.metadata.name = LoginObjectName(hash);
  login.metadata.labels["visi.dev/session"] = session;
  // Not the controller (the route reconciler does not own logins), but the
  // garbage collector deletes them with the session.
  login.metadata.owner_references.push_back(OwnerRefTo(*s, /*controller=*/false));
  const std::string expires = FormatRfc3339(now + ttl);
  login.spec = {{"session", session}, {"ticketSHA256", hash}, {"expiresTime", expires}};
  VISI_ASSIGN_OR_RETURN(ObjectPtr created, store->Create(std::move(login)));
  return Json{{"apiVersion", kApiVersion},
              {"kind", "SessionLoginTicket"},
              {"metadata", {{"name", created->metadata.name}, {"namespace", ns}}},
              {"session", session},
              {"url", router_url + kLoginPathPrefix + ns + "/" + session + "?ticket=" + ticket},
              {"sessionURL", router_url + SessionPathPrefix(ns, session)},
              {"expiresTime", expires}};
}

StatusOr<RedeemedLogin> RedeemLogin(Store* store, const std::string& ns, const std::string& session,
                                    const std::string& ticket, TimePoint now) {
  if (!CheckDns1123Label(ns).empty() || !CheckDns1123Subdomain(session).empty()) {
    return BadRequestError("the login link is malformed: it must be " + std::string(kLoginPathPrefix) +
                           "NAMESPACE/SESSION?ticket=TICKET");
  }
  if (ticket.size() != 64 || !IsLowerHex(ticket)) {
    return BadRequestError("the login link is malformed: its ticket must be 64 hex digits");
  }
  const std::string hash = CookieHash(ticket);
  auto got = store->Get("SessionLogin", ns, LoginObjectName(hash));
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) {
      return NotFoundError("this login link is not valid: ask for a new one (visictl open " + session + ")");
    }
    return got.status();
  }
  ObjectPtr login = *got;
  const std::string want = Str(login->spec, "ticketSHA256");
  if (want.size() != hash.size() || CRYPTO_memcmp(want.data(), hash.data(), hash.size()) != 0 ||
      Str(login->spec, "session") != session) {
    return NotFoundError("this login link is not valid: ask for a new one (visictl open " + session + ")");
  }
  if (!Str(login->status, "redeemedTime").empty()) {
    return GoneError("this login link was used already; each link logs in once: ask for a new one (visictl open " +
                     session + ")");
  }
  auto expires = ParseRfc3339(Str(login->spec, "expiresTime"));
  if (!expires || *expires < now) {
    return GoneError("this login link has expired: ask for a new one (visictl open " + session + ")");
  }
  auto s = store->Get("VisiSession", ns, session);
  if (!s.ok() && s.status().code() != Code::kNotFound) return s.status();
  const bool same_session =
      s.ok() && std::any_of(login->metadata.owner_references.begin(), login->metadata.owner_references.end(),
                            [&](const OwnerReference& r) { return r.uid == (*s)->metadata.uid; });
  if (!same_session || (*s)->metadata.deletion_timestamp) {
    return NotFoundError("the session " + ns + "/" + session + " of this login link no longer exists");
  }
  VISI_ASSIGN_OR_RETURN(std::string cookie, RandomSecret());
  Object redeemed = *login;
  redeemed.status = {{"redeemedTime", FormatRfc3339(now)}, {"cookieSHA256", CookieHash(cookie)}};
  // resourceVersion is set: of two redemptions racing, one gets a conflict.
  auto written = store->UpdateStatus(std::move(redeemed));
  if (!written.ok()) {
    if (written.status().code() == Code::kConflict) {
      return GoneError("this login link was used already; each link logs in once: ask for a new one (visictl open " +
                       session + ")");
    }
    return written.status();
  }
  return RedeemedLogin{cookie, CookieHash(cookie), ns + "/" + session};
}

}  // namespace visi
