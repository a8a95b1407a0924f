#include "controller/store/etcd/etcd_keyspace.h"

#include "controller/store/store_engine.h"

namespace visi {
namespace {

// Keys are printed as text, with control bytes escaped: a hostile key must
// not garble a log line.
std::string Printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key.substr(0, 512)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string EtcdKeyspace::Key(std::string_view kind, std::string_view ns,
                              std::string_view name) const {
  return prefix_ + StoreEngine::Key(kind, ns, name);
}

std::string EtcdKeyspace::KindPrefix(std::string_view kind, std::string_view ns) const {
  std::string p = prefix_;
  p.append(kind).append("/");
  if (!ns.empty()) p.append(ns).append("/");
  return p;
}

std::string_view EtcdKeyspace::Relative(std::string_view key) const {
  if (key.compare(0, prefix_.size(), prefix_) == 0) key.remove_prefix(prefix_.size());
  return key;
}

std::string EtcdKeyspace::Encode(const Object& o) {
  if (o.metadata.resource_version == 0) return ObjectToJsonText(o);
  Object copy = o;
  copy.metadata.resource_version = 0;
  return ObjectToJsonText(copy);
}

StatusOr<ObjectPtr> EtcdKeyspace::Decode(const EtcdKeyValue& kv, int64_t rv) const {
  auto bad = [&](const std::string& why) {
    return InternalError("etcd key \"" + Printable(kv.key) +
                         "\" does not hold a valid object: " + why);
  };
  auto j = ParseJson(kv.value);
  if (!j.ok()) return bad(j.status().message());
  auto o = ObjectFromJson(*j);
  if (!o.ok()) return bad(o.status().ToString());
  std::string expected = Key(o->kind, o->metadata.namespace_, o->metadata.name);
  if (expected != kv.key) {
    return bad("it holds " + (o->kind.empty() ? std::string("an object without a kind") : o->kind) +
               " \"" + Printable(o->metadata.namespace_) + "/" + Printable(o->metadata.name) +
               "\"");
  }
  o->metadata.resource_version = static_cast<uint64_t>(rv);
  return ObjectPtr(std::make_shared<Object>(std::move(*o)));
}

}  // namespace visi
