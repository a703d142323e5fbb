// Segment doorbells: the daemon side, driven by a "client" that follows the protocol of
// <wmd/segment_layout.h> on its own mapping of the control object.
#include <doctest/doctest.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <thread>

#include "daemon/segment/segment.hpp"
#include "tests/unit/segment/shm_fixture.hpp"

namespace wmd {
namespace {

using namespace std::chrono_literals;
using testing::CtlView;
using testing::ShmName;

std::unique_ptr<Segment> make_segment(const ShmName& name) {
  SegmentConfig config;
  config.name = name.str();
  config.size_bytes = 8192;
  config.max_size_bytes = 8192 * 4;
  config.page_size_bytes = 8192;
  auto segment = Segment::open(config);
  REQUIRE(segment.ok());
  return std::move(segment).value();
}

// The client half of the flush protocol, written from the layout alone.
std::uint32_t client_ring_flush(wmd_ctl* ctl) {
  const std::uint32_t ticket = __atomic_add_fetch(&ctl->flush_request, 1, __ATOMIC_ACQ_REL);
  ::syscall(SYS_futex, &ctl->flush_request, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  return ticket;
}

bool client_wait_flush_done(wmd_ctl* ctl, std::uint32_t ticket, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const std::uint32_t done = __atomic_load_n(&ctl->flush_done, __ATOMIC_ACQUIRE);
    if (static_cast<std::int32_t>(done - ticket) >= 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec slice {
      0, 10'000'000
    };
    ::syscall(SYS_futex, &ctl->flush_done, FUTEX_WAIT, done, &slice, nullptr, 0);
  }
}

// A daemon thread: waits for requests, "scans", completes them, until stopped.
class FakeDaemon {
 public:
  explicit FakeDaemon(Segment& segment) : segment_(segment) {
    thread_ = std::thread([this] {
      // Waits from the last ticket served, never from a fresh read, so a request rung while
      // the previous one was being served is not missed.
      std::uint32_t served_ticket = 0;
      while (!stop_.load()) {
        segment_.wait_flush_request(served_ticket, 5s);
        const std::uint32_t ticket = segment_.flush_requested();
        if (ticket != served_ticket) {
          served_.fetch_add(1);
          segment_.flush_completed(ticket);
          served_ticket = ticket;
        }
      }
      exited_.store(true);
    });
  }
  ~FakeDaemon() {
    stop_.store(true);
    // As wmdd does: a wake landing just before the waiter sleeps is missed, so repeat it.
    while (!exited_.load()) {
      segment_.wake_flush_waiter();
      std::this_thread::sleep_for(1ms);
    }
    thread_.join();
  }
  int served() const { return served_.load(); }

 private:
  Segment& segment_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST_CASE("a flush rung by a client is served by the daemon thread and completes") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  FakeDaemon daemon(*segment);
  for (int i = 0; i < 50; ++i) {
    const std::uint32_t ticket = client_ring_flush(ctl.get());
    REQUIRE(client_wait_flush_done(ctl.get(), ticket, 5000ms));
  }
  CHECK(daemon.served() >= 1);
  CHECK(segment->flush_requested() == 50);
}

TEST_CASE("wake_flush_waiter releases a waiting daemon thread long before its timeout") {
  ShmName name;
  auto segment = make_segment(name);
  const auto start = std::chrono::steady_clock::now();
  {
    FakeDaemon daemon(*segment);  // destructor wakes and joins
    std::this_thread::sleep_for(20ms);
  }
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("wait_flush_request returns after its timeout when nobody rings") {
  ShmName name;
  auto segment = make_segment(name);
  const auto start = std::chrono::steady_clock::now();
  segment->wait_flush_request(segment->flush_requested(), 60ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 60ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("wait_flush_request returns at once when a request is already pending") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  const std::uint32_t seen = segment->flush_requested();
  client_ring_flush(ctl.get());
  const auto start = std::chrono::steady_clock::now();
  segment->wait_flush_request(seen, 10s);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("flush completion never moves backwards") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  segment->flush_completed(5);
  segment->flush_completed(3);
  CHECK(ctl->flush_done == 5);
}

TEST_CASE("a flush that left changes pending says so before it completes") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  segment->flush_completed(4);
  CHECK(ctl->flush_pending == 0);
  segment->flush_completed(5, /*changes_pending=*/true);
  CHECK(ctl->flush_pending == 5);  // a client waiting for ticket 4 or 5 reports WMD_EPENDING
  CHECK(ctl->flush_done == 5);
  segment->flush_completed(6);
  CHECK(ctl->flush_pending == 5);  // ticket 6 was served cleanly: 5 - 6 < 0
}

TEST_CASE("notify_remote_applied bumps the counter and wakes a waiting client") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  const std::uint32_t seen = __atomic_load_n(&ctl->remote_applied, __ATOMIC_ACQUIRE);
  std::atomic<bool> woken{false};
  std::thread client([&] {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (__atomic_load_n(&ctl->remote_applied, __ATOMIC_ACQUIRE) == seen &&
           std::chrono::steady_clock::now() < deadline) {
      struct timespec slice {
        0, 50'000'000
      };
      ::syscall(SYS_futex, &ctl->remote_applied, FUTEX_WAIT, seen, &slice, nullptr, 0);
    }
    woken.store(__atomic_load_n(&ctl->remote_applied, __ATOMIC_ACQUIRE) != seen);
  });
  segment->notify_remote_applied();
  client.join();
  CHECK(woken.load());
  CHECK(ctl->remote_applied == seen + 1);
}

TEST_CASE("the daemon pid is published with its start time and read back while alive") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  CHECK(segment->serving_daemon_pid() == 0);
  segment->set_daemon_pid(::getpid());
  CHECK(ctl->daemon_pid == ::getpid());
  CHECK(ctl->daemon_start_time_ticks != 0);
  CHECK(segment->serving_daemon_pid() == ::getpid());
  // A recorded start time that does not match means the pid was reused: no daemon.
  __atomic_store_n(&ctl->daemon_start_time_ticks, ctl->daemon_start_time_ticks + 1,
                   __ATOMIC_RELEASE);
  CHECK(segment->serving_daemon_pid() == 0);
  segment->set_daemon_pid(0);
  CHECK(ctl->daemon_pid == 0);
}

}  // namespace
}  // namespace wmd
