#pragma once

#include <string>
#include <string_view>

#include "controller/api/object.h"
#include "controller/store/etcd/etcd_client.h"

namespace visi {

// Where the etcd store keeps objects: one key per object, the store's prefix
// then "Kind/namespace/name" (StoreEngine::Key), holding the object's JSON
// without its resourceVersion (that is the key's mod_revision).
class EtcdKeyspace {
 public:
  explicit EtcdKeyspace(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string Key(std::string_view kind, std::string_view ns, std::string_view name) const;
  // The keys of one kind, or of one kind in one namespace when `ns` is set.
  std::string KindPrefix(std::string_view kind, std::string_view ns) const;
  // "Kind/namespace/name" of a full key under the prefix.
  std::string_view Relative(std::string_view key) const;

  // The stored text of `o`: its JSON with resourceVersion left out.
  static std::string Encode(const Object& o);
  // The object `kv` holds, at resourceVersion `rv`. kInternal naming the key
  // when the value is not an object's JSON or names another object than
  // its key.
  StatusOr<ObjectPtr> Decode(const EtcdKeyValue& kv, int64_t rv) const;
  StatusOr<ObjectPtr> Decode(const EtcdKeyValue& kv) const { return Decode(kv, kv.mod_revision); }

 private:
  const std::string prefix_;
};

}  // namespace visi
