#include "controller/drivers/docker/tar_archive.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace visi {
namespace {

constexpr size_t kBlock = 512;

// Field offsets and sizes of a ustar header.
constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kModeOff = 100, kUidOff = 108, kGidOff = 116, kIdLen = 8;
constexpr size_t kSizeOff = 124, kSizeLen = 12;
constexpr size_t kMtimeOff = 136;
constexpr size_t kChksumOff = 148, kChksumLen = 8;
constexpr size_t kTypeOff = 156;
constexpr size_t kLinkOff = 157, kLinkLen = 100;
constexpr size_t kMagicOff = 257;
constexpr size_t kPrefixOff = 345, kPrefixLen = 155;

size_t Padded(uint64_t size) { return static_cast<size_t>((size + kBlock - 1) / kBlock * kBlock); }

void PutOctal(char* field, size_t len, uint64_t value) {
  // len-1 digits, then NUL.
  std::memset(field, '0', len - 1);
  field[len - 1] = '\0';
  for (size_t i = len - 1; i > 0 && value > 0; --i) {
    field[i - 1] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, "..") == 0 && end - start == 2) return false;
    start = end + 1;
  }
  return true;
}

// Splits `name` into ustar's prefix and name fields; false when it cannot fit.
bool SplitName(const std::string& name, std::string* prefix, std::string* rest) {
  if (name.size() <= kNameLen) {
    prefix->clear();
    *rest = name;
    return true;
  }
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    if (slash <= kPrefixLen && name.size() - slash - 1 <= kNameLen && slash + 1 < name.size()) {
      *prefix = name.substr(0, slash);
      *rest = name.substr(slash + 1);
      return true;
    }
  }
  return false;
}

std::optional<uint64_t> ParseNumber(std::string_view field) {
  if (field.empty()) return std::nullopt;
  if (static_cast<unsigned char>(field[0]) & 0x80) {  // GNU base-256
    uint64_t value = static_cast<unsigned char>(field[0]) & 0x7f;
    for (size_t i = 1; i < field.size(); ++i) {
      if (value >> 55) return std::nullopt;  // would overflow
      value = (value << 8) | static_cast<unsigned char>(field[i]);
    }
    return value;
  }
  uint64_t value = 0;
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  bool any = false;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 60) return std::nullopt;
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
  }
  if (!any) return 0;
  return value;
}

std::string CString(const char* p, size_t max_len) { return std::string(p, strnlen(p, max_len)); }

bool ChecksumMatches(const char* h) {
  auto stored = ParseNumber(std::string_view(h + kChksumOff, kChksumLen));
  if (!stored) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    bool in_field = i >= kChksumOff && i < kChksumOff + kChksumLen;
    sum += in_field ? ' ' : static_cast<unsigned char>(h[i]);
  }
  return sum == *stored;
}

// Applies the records of a pax extended header ("LEN key=value\n" ...).
bool ParsePax(std::string_view data, std::optional<std::string>* path, std::optional<std::string>* link,
              std::optional<uint64_t>* size) {
  while (!data.empty()) {
    size_t space = data.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 20) return false;
    uint64_t len = 0;
    for (size_t i = 0; i < space; ++i) {
      if (data[i] < '0' || data[i] > '9') return false;
      len = len * 10 + static_cast<uint64_t>(data[i] - '0');
    }
    if (len <= space + 1 || len > data.size() || data[len - 1] != '\n') return false;
    std::string_view record = data.substr(space + 1, len - space - 2);
    data.remove_prefix(len);
    size_t eq = record.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = record.substr(0, eq), value = record.substr(eq + 1);
    if (key == "path") *path = std::string(value);
    if (key == "linkpath") *link = std::string(value);
    if (key == "size") {  // decimal, unlike the header's octal
      if (value.empty()) return false;
      uint64_t v = 0;
      for (char c : value) {
        if (c < '0' || c > '9' || v > UINT64_MAX / 10 - 10) return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      *size = v;
    }
  }
  return true;
}

std::string CleanName(std::string name) {
  while (name.size() > 2 && name.compare(0, 2, "./") == 0) name.erase(0, 2);
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (name == "./") name = ".";
  return name;
}

// "LEN key=value\n", where LEN counts the whole record including itself.
std::string PaxRecord(const std::string& key, const std::string& value) {
  const std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) len = std::to_string(len).size() + body.size();
  return std::to_string(len) + body;
}

// One header block plus its data, padded.
void AppendMember(std::string* out, const std::string& prefix, const std::string& name, char type, uint32_t mode,
                  uint32_t uid, uint32_t gid, const std::string& link, std::string_view data) {
  char h[kBlock] = {};
  std::memcpy(h + kNameOff, name.data(), std::min(name.size(), kNameLen));
  PutOctal(h + kModeOff, kIdLen, mode & 07777);
  PutOctal(h + kUidOff, kIdLen, uid);
  PutOctal(h + kGidOff, kIdLen, gid);
  PutOctal(h + kSizeOff, kSizeLen, data.size());
  PutOctal(h + kMtimeOff, kSizeLen, 0);
  h[kTypeOff] = type;
  std::memcpy(h + kLinkOff, link.data(), std::min(link.size(), kLinkLen));
  std::memcpy(h + kMagicOff,
              "ustar\0"
              "00",
              8);
  std::memcpy(h + kPrefixOff, prefix.data(), std::min(prefix.size(), kPrefixLen));
  std::memset(h + kChksumOff, ' ', kChksumLen);
  uint64_t sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  PutOctal(h + kChksumOff, 7, sum);  // six digits, NUL, then the space left in place
  out->append(h, kBlock);
  out->append(data);
  out->append(Padded(data.size()) - data.size(), '\0');
}

}  // namespace

StatusOr<std::string> WriteTar(const std::vector<TarEntry>& entries) {
  // Reserved once, at least what is written (a pax header, then the member),
  // so large contents are not copied again as the archive grows.
  size_t bound = 2 * kBlock;
  for (const TarEntry& e : entries) {
    bound += 2 * kBlock + Padded(e.name.size() + e.link_target.size() + 64) + kBlock + Padded(e.content.size());
  }
  std::string out;
  out.reserve(bound);
  for (const TarEntry& e : entries) {
    if (!ValidName(e.name)) return InvalidError("tar entry name \"" + e.name + "\" must be relative without \"..\"");
    std::string name = e.name;
    if (e.type == TarEntry::Type::kDirectory && name.back() != '/') name += '/';
    const std::string_view data = e.type == TarEntry::Type::kFile ? std::string_view(e.content) : std::string_view();
    if (data.size() >= (uint64_t{1} << 33)) return InvalidError("tar entry \"" + e.name + "\" is larger than 8 GiB");

    // Names and link targets that ustar cannot hold go in a pax header first.
    std::string prefix, rest, pax;
    if (!SplitName(name, &prefix, &rest)) {
      pax += PaxRecord("path", name);
      prefix.clear();
      rest = name.substr(0, kNameLen);
    }
    if (e.link_target.size() > kLinkLen) pax += PaxRecord("linkpath", e.link_target);
    if (!pax.empty()) AppendMember(&out, "", "PaxHeaders/entry", 'x', 0644, 0, 0, "", pax);

    const char type = e.type == TarEntry::Type::kDirectory ? '5' : e.type == TarEntry::Type::kSymlink ? '2' : '0';
    AppendMember(&out, prefix, rest, type, e.mode, e.uid, e.gid,
                 e.type == TarEntry::Type::kSymlink ? e.link_target : "", data);
  }
  out.append(2 * kBlock, '\0');
  return out;
}

StatusOr<std::vector<TarEntryView>> ReadTarViews(std::string_view tar) {
  std::vector<TarEntryView> entries;
  std::optional<std::string> next_path, next_link;
  std::optional<uint64_t> next_size;
  size_t pos = 0;
  while (pos < tar.size()) {
    if (tar.size() - pos < kBlock) return InvalidError("tar archive is truncated inside a header");
    const char* h = tar.data() + pos;
    if (std::all_of(h, h + kBlock, [](char c) { return c == '\0'; })) break;  // end of archive
    if (!ChecksumMatches(h)) return InvalidError("tar header at offset " + std::to_string(pos) + " has a bad checksum");
    pos += kBlock;

    auto size = ParseNumber(std::string_view(h + kSizeOff, kSizeLen));
    if (!size) return InvalidError("tar header at offset " + std::to_string(pos - kBlock) + " has a bad size");
    if (next_size) size = next_size;
    if (*size > tar.size() - pos) return InvalidError("tar member claims more bytes than the archive has");
    std::string_view data = tar.substr(pos, static_cast<size_t>(*size));
    pos += std::min(Padded(*size), tar.size() - pos);

    const char type = h[kTypeOff];
    if (type == 'x' || type == 'g') {
      if (type == 'x' && !ParsePax(data, &next_path, &next_link, &next_size)) {
        return InvalidError("tar pax header is malformed");
      }
      continue;
    }
    if (type == 'L' || type == 'K') {
      std::string value(data.substr(0, data.find('\0')));
      (type == 'L' ? next_path : next_link) = std::move(value);
      continue;
    }

    TarEntryView e;
    std::string name = CString(h + kNameOff, kNameLen);
    if (std::memcmp(h + kMagicOff, "ustar", 5) == 0) {
      std::string prefix = CString(h + kPrefixOff, kPrefixLen);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    e.name = CleanName(next_path ? *next_path : name);
    e.link_target = next_link ? *next_link : CString(h + kLinkOff, kLinkLen);
    e.mode = static_cast<uint32_t>(ParseNumber(std::string_view(h + kModeOff, kIdLen)).value_or(0) & 07777);
    e.uid = static_cast<uint32_t>(ParseNumber(std::string_view(h + kUidOff, kIdLen)).value_or(0));
    e.gid = static_cast<uint32_t>(ParseNumber(std::string_view(h + kGidOff, kIdLen)).value_or(0));
    next_path.reset();
    next_link.reset();
    next_size.reset();
    if (e.name.empty()) return InvalidError("tar member has an empty name");

    switch (type) {
      case '0':
      case '\0':
      case '7':
        e.type = TarEntry::Type::kFile;
        e.content = data;
        break;
      case '1':  // hard link: kept as an empty file
        e.type = TarEntry::Type::kFile;
        break;
      case '2':
        e.type = TarEntry::Type::kSymlink;
        break;
      case '5':
        e.type = TarEntry::Type::kDirectory;
        break;
      default:
        continue;  // devices, fifos, sparse files: not ours to carry
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

StatusOr<std::vector<TarEntry>> ReadTar(std::string_view tar) {
  VISI_ASSIGN_OR_RETURN(std::vector<TarEntryView> views, ReadTarViews(tar));
  std::vector<TarEntry> entries;
  entries.reserve(views.size());
  for (TarEntryView& v : views) {
    TarEntry e;
    e.name = std::move(v.name);
    e.type = v.type;
    e.mode = v.mode;
    e.content = std::string(v.content);
    e.link_target = std::move(v.link_target);
    e.uid = v.uid;
    e.gid = v.gid;
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace visi
