// cpprestsdk's listener offers no socket options, and Nagle's algorithm
// holds a small watch event back until the previous one is acknowledged;
// with the client's delayed ACK that costs ~40 ms per event. visid serves
// only small request/response and streamed messages, so every TCP socket it
// accepts gets TCP_NODELAY: accept() and accept4() are wrapped here (the
// executable's definitions take precedence over libc's), call the real ones,
// and set the option on the new socket.
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {

void NoDelay(int fd) {
  if (fd < 0) return;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

extern "C" int accept(int fd, sockaddr* addr, socklen_t* len) {
  using Fn = int (*)(int, sockaddr*, socklen_t*);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept"));
  int s = real(fd, addr, len);
  NoDelay(s);
  return s;
}

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  using Fn = int (*)(int, sockaddr*, socklen_t*, int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept4"));
  int s = real(fd, addr, len, flags);
  NoDelay(s);
  return s;
}
