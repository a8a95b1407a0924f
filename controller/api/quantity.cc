#include "controller/api/quantity.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

namespace visi {
namespace {

// The multiplier of a suffix; 0 for an unknown one.
long double Multiplier(const std::string& suffix) {
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1.0L},      {"n", 1e-9L},          {"u", 1e-6L},          {"m", 1e-3L},
      {"k", 1e3L},     {"M", 1e6L},           {"G", 1e9L},           {"T", 1e12L},
      {"P", 1e15L},    {"E", 1e18L},          {"Ki", 1024.0L},       {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L}, {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L}};
  for (const auto& [s, m] : kSuffixes) {
    if (suffix == s) return m;
  }
  return 0;
}

}  // namespace

StatusOr<int64_t> ParseQuantity(const std::string& text, double scale, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return InvalidError(field + ": " + why, {{field, "must be a quantity such as 500m, 2, 512Mi or 2Gi, got \"" +
                                                         text.substr(0, 64) + "\""}});
  };
  if (text.empty() || text.size() > 64) return bad("must be a quantity");
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string number = text.substr(0, i), suffix = text.substr(i);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return bad("must be a quantity");
  long double value = std::strtold(number.c_str(), nullptr);
  long double mult = 0;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    char* end = nullptr;
    long exp = std::strtol(suffix.c_str() + 1, &end, 10);
    if (*end != '\0' || exp < -30 || exp > 30) return bad("must be a quantity");
    mult = std::pow(10.0L, static_cast<long double>(exp));
  } else {
    mult = Multiplier(suffix);
    if (mult == 0) return bad("unknown suffix \"" + suffix.substr(0, 8) + "\"");
  }
  long double scaled = std::ceil(value * mult * scale - 1e-9L);
  if (!std::isfinite(scaled) || scaled > static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) {
    return bad("is too large");
  }
  return static_cast<int64_t>(scaled);
}

}  // namespace visi
