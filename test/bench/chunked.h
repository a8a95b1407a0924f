#pragma once

#include <cstdlib>
#include <string>

namespace visi::bench {

// HTTP/1.1 chunked transfer decoding for the benchmarks' raw watch streams
// (SIZE\r\nDATA\r\n ...): moves every whole chunk of `*raw` into `*body` and
// keeps an incomplete one in `*raw` for the next read. True once the last
// (zero-size) chunk has arrived: the server ended the stream.
inline bool DecodeChunks(std::string* raw, std::string* body) {
  while (true) {
    const size_t eol = raw->find("\r\n");
    if (eol == std::string::npos) return false;
    const size_t size = std::strtoul(raw->substr(0, eol).c_str(), nullptr, 16);
    if (raw->size() < eol + 2 + size + 2) return false;
    body->append(*raw, eol + 2, size);
    raw->erase(0, eol + 2 + size + 2);
    if (size == 0) return true;
  }
}

}  // namespace visi::bench
