// Socket-level guard for the connections visid accepts.
//
// cpprestsdk's listener offers no socket options and no timeouts. This file
// is linked into the visid executable, whose definitions of accept(),
// accept4(), recv(), recvmsg(), send(), sendmsg() and close() take precedence
// over libc's: each calls the real function (dlsym RTLD_NEXT) and keeps a
// little bookkeeping for the TCP sockets that accept() returned.
//
// - TCP_NODELAY on every accepted socket. Nagle's algorithm held a small
//   watch event back until the previous one was acknowledged, which with the
//   client's delayed ACK cost ~40 ms per event.
// - A request deadline. A request starts with the first byte received after
//   the last byte sent (TLS records included) and ends with the first byte
//   of the response. A connection whose request runs past the deadline is
//   shut down, so a client that trickles its headers or body in (slowloris)
//   cannot hold a connection and its buffers.
// - A byte bound per request: cpprestsdk reads headers into a buffer without
//   a limit, so a request that sends more than the body and header limits
//   allow (plus TLS framing) has its connection shut down as it arrives.
// - An idle deadline: nothing received or sent for that long.
//
// The hot path (recv/send) is lock free: one slot of atomics per descriptor.
// accept, close and the watchdog's shutdown take a mutex, so the watchdog
// never shuts down a descriptor that was closed and reused meanwhile.
#include "controller/server/conn_guard.h"

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace visi {
namespace {

constexpr int kMaxTracked = 1 << 16;

struct Slot {
  std::atomic<bool> tracked{false};
  std::atomic<int64_t> request_start_ns{0};  // 0: no request in progress
  std::atomic<int64_t> last_activity_ns{0};
  std::atomic<int64_t> request_bytes{0};
};

struct Guard {
  std::array<Slot, kMaxTracked> slots;
  std::atomic<int> max_fd{-1};
  std::mutex mu;  // accept/close/shutdown of tracked descriptors
  std::condition_variable cv;
  bool stop = false;  // GUARDED_BY(mu)
  std::thread thread;
  ConnectionDeadlines deadlines;
  std::atomic<int64_t> max_request_bytes{0};
  std::atomic<uint64_t> request_timeouts{0}, idle_timeouts{0}, oversized_requests{0};
};

Guard& G() {
  static Guard* g = new Guard;  // never destroyed: wrappers may run during exit
  return *g;
}

int64_t NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

bool IsTcp(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  return addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
}

void OnAccept(int fd) {
  if (fd < 0 || !IsTcp(fd)) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fd >= kMaxTracked) return;
  Guard& g = G();
  std::lock_guard lock(g.mu);
  Slot& s = g.slots[fd];
  s.request_start_ns = 0;
  s.last_activity_ns = NowNs();
  s.tracked = true;
  int prev = g.max_fd.load();
  while (fd > prev && !g.max_fd.compare_exchange_weak(prev, fd)) {
  }
}

void OnReceived(int fd, ssize_t n) {
  if (n <= 0 || fd < 0 || fd >= kMaxTracked) return;
  Slot& s = G().slots[fd];
  if (!s.tracked.load(std::memory_order_relaxed)) return;
  int64_t now = NowNs();
  s.last_activity_ns.store(now, std::memory_order_relaxed);
  int64_t none = 0;
  int64_t bytes = s.request_start_ns.compare_exchange_strong(none, now, std::memory_order_relaxed)
                      ? (s.request_bytes.store(n, std::memory_order_relaxed), n)
                      : s.request_bytes.fetch_add(n, std::memory_order_relaxed) + n;
  Guard& g = G();
  int64_t max = g.max_request_bytes.load(std::memory_order_relaxed);
  if (max > 0 && bytes > max) {
    // This thread is inside recv() on fd, so fd is open and ours.
    std::lock_guard lock(g.mu);
    if (s.tracked) {
      ::shutdown(fd, SHUT_RDWR);
      s.tracked = false;
      g.oversized_requests++;
    }
  }
}

void OnSent(int fd, ssize_t n) {
  if (n <= 0 || fd < 0 || fd >= kMaxTracked) return;
  Slot& s = G().slots[fd];
  if (!s.tracked.load(std::memory_order_relaxed)) return;
  s.last_activity_ns.store(NowNs(), std::memory_order_relaxed);
  s.request_start_ns.store(0, std::memory_order_relaxed);
  s.request_bytes.store(0, std::memory_order_relaxed);
}

void Watch() {
  Guard& g = G();
  std::unique_lock lock(g.mu);
  while (!g.stop) {
    g.cv.wait_for(lock, std::chrono::milliseconds(200));
    int64_t now = NowNs();
    int64_t request_ns = std::chrono::nanoseconds(g.deadlines.request).count();
    int64_t idle_ns = std::chrono::nanoseconds(g.deadlines.idle).count();
    int top = g.max_fd.load();
    for (int fd = 0; fd <= top && fd < kMaxTracked; ++fd) {
      Slot& s = g.slots[fd];
      if (!s.tracked) continue;
      int64_t started = s.request_start_ns.load();
      bool request_late = started != 0 && now - started > request_ns;
      bool idle = now - s.last_activity_ns.load() > idle_ns;
      if (!request_late && !idle) continue;
      // Shutting down (not closing) makes cpprestsdk's pending read fail;
      // it then closes the descriptor itself. close() of a tracked
      // descriptor waits for this lock, so the descriptor is still ours.
      ::shutdown(fd, SHUT_RDWR);
      s.tracked = false;
      (request_late ? g.request_timeouts : g.idle_timeouts)++;
    }
  }
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void StartConnectionGuard(ConnectionDeadlines deadlines) {
  Guard& g = G();
  std::lock_guard lock(g.mu);
  if (g.thread.joinable()) return;
  g.deadlines = deadlines;
  g.max_request_bytes = deadlines.max_request_bytes;
  g.stop = false;
  g.thread = std::thread(Watch);
}

void StopConnectionGuard() {
  Guard& g = G();
  std::thread t;
  {
    std::lock_guard lock(g.mu);
    g.stop = true;
    t = std::move(g.thread);
  }
  g.cv.notify_all();
  if (t.joinable()) t.join();
}

ConnectionGuardCounts ConnectionGuardTotals() {
  return {G().request_timeouts.load(), G().idle_timeouts.load(), G().oversized_requests.load()};
}

}  // namespace visi

using visi::OnAccept;
using visi::OnReceived;
using visi::OnSent;
using visi::Real;

extern "C" int accept(int fd, sockaddr* addr, socklen_t* len) {
  static auto real = Real<int (*)(int, sockaddr*, socklen_t*)>("accept");
  int s = real(fd, addr, len);
  OnAccept(s);
  return s;
}

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  static auto real = Real<int (*)(int, sockaddr*, socklen_t*, int)>("accept4");
  int s = real(fd, addr, len, flags);
  OnAccept(s);
  return s;
}

extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  static auto real = Real<ssize_t (*)(int, void*, size_t, int)>("recv");
  ssize_t r = real(fd, buf, n, flags);
  OnReceived(fd, r);
  return r;
}

extern "C" ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  static auto real = Real<ssize_t (*)(int, msghdr*, int)>("recvmsg");
  ssize_t r = real(fd, msg, flags);
  OnReceived(fd, r);
  return r;
}

extern "C" ssize_t send(int fd, const void* buf, size_t n, int flags) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t, int)>("send");
  ssize_t r = real(fd, buf, n, flags);
  OnSent(fd, r);
  return r;
}

extern "C" ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  static auto real = Real<ssize_t (*)(int, const msghdr*, int)>("sendmsg");
  ssize_t r = real(fd, msg, flags);
  OnSent(fd, r);
  return r;
}

extern "C" int close(int fd) {
  static auto real = Real<int (*)(int)>("close");
  if (fd >= 0 && fd < visi::kMaxTracked) {
    visi::Guard& g = visi::G();
    if (g.slots[fd].tracked.load(std::memory_order_relaxed)) {
      std::lock_guard lock(g.mu);
      g.slots[fd].tracked = false;
      return real(fd);
    }
  }
  return real(fd);
}
