#include "controller/server/auth/pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

namespace visi {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256")); }

bool AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

CertPtr NewCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                bool is_ca, const std::string& san, long days) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("visi"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok = ok && AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExt(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExt(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    ok = ok && AddExt(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    ok = ok && AddExt(cert.get(), signer, NID_subject_alt_name, san);
  }
  ok = ok && AddExt(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!ok || X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

Status WritePem(const std::string& path, bool secret, const std::function<int(FILE*)>& write) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return InternalError("cannot write " + tmp);
  if (secret) ::fchmod(fileno(f), 0600);
  bool ok = write(f) == 1;
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(fileno(f)) == 0) && ok;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return InternalError("cannot write " + path);
  return OkStatus();
}

}  // namespace


std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

Status EnsurePki(const std::string& dir, const std::vector<std::string>& extra_hosts, PkiPaths* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  out->ca_cert = dir + "/ca.crt";
  out->ca_key = dir + "/ca.key";
  out->server_cert = dir + "/server.crt";
  out->server_key = dir + "/server.key";
  bool have_all = fs::exists(out->ca_cert) && fs::exists(out->ca_key) &&
                  fs::exists(out->server_cert) && fs::exists(out->server_key);
  if (have_all) return OkStatus();
  KeyPtr ca_key = NewKey(), server_key = NewKey();
  if (!ca_key || !server_key) return InternalError("cannot generate keys");
  CertPtr ca = NewCert(ca_key.get(), "visi-ca", nullptr, nullptr, true, "", 3650);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& h : extra_hosts) {
    bool ip = h.find_first_not_of("0123456789.:") == std::string::npos;
    san += std::string(",") + (ip ? "IP:" : "DNS:") + h;
  }
  CertPtr server = NewCert(server_key.get(), "visid", ca.get(), ca_key.get(), false, san, 825);
  if (!ca || !server) return InternalError("cannot sign certificates");
  VISI_RETURN_IF_ERROR(WritePem(out->ca_key, true, [&](FILE* f) {
    return PEM_write_PrivateKey(f, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  VISI_RETURN_IF_ERROR(WritePem(out->server_key, true, [&](FILE* f) {
    return PEM_write_PrivateKey(f, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  VISI_RETURN_IF_ERROR(WritePem(out->server_cert, false, [&](FILE* f) { return PEM_write_X509(f, server.get()); }));
  // The CA certificate last: its presence marks a complete set.
  VISI_RETURN_IF_ERROR(WritePem(out->ca_cert, false, [&](FILE* f) { return PEM_write_X509(f, ca.get()); }));
  return OkStatus();
}

}  // namespace visi
