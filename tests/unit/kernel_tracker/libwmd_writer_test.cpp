// The whole writer path as a runtime uses it: a forked process opens the segment with libwmd,
// calls wmd_register_writer(WMD_WRITER_KERNEL_TRACKING), writes and grows; the test reads the
// writer registry from the control object as the daemon does and runs KernelTracker rounds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wmd/wmd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "daemon/tracker/kernel/kernel_probe.hpp"
#include "daemon/tracker/kernel/kernel_tracker.hpp"

namespace wmd::kernel {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kPage = 8192;

// A child that opens `name` with libwmd, registers as a writer with kernel tracking and serves
// one-byte commands: 'w' writes pages 1 and 5, 'g' grows to 128 pages and writes page 100,
// 'q' closes and exits. It answers each with one byte.
class LibwmdChild {
 public:
  explicit LibwmdChild(const std::string& name) {
    int to_child[2];
    int to_parent[2];
    REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(to_parent, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) serve(name, to_child[0], to_parent[1]);
    ::close(to_child[0]);
    ::close(to_parent[1]);
    command_fd_ = to_child[1];
    reply_fd_ = to_parent[0];
    char ready = 0;
    REQUIRE(::read(reply_fd_, &ready, 1) == 1);
    REQUIRE(ready == 'r');
  }
  ~LibwmdChild() {
    ask('q');
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(command_fd_);
    ::close(reply_fd_);
  }
  LibwmdChild(const LibwmdChild&) = delete;
  LibwmdChild& operator=(const LibwmdChild&) = delete;

  pid_t pid() const { return pid_; }
  void ask(char command) {
    char reply = 0;
    if (::write(command_fd_, &command, 1) == 1) (void)::read(reply_fd_, &reply, 1);
  }

 private:
  [[noreturn]] static void serve(const std::string& name, int command_fd, int reply_fd) {
    wmd_options options;
    wmd_options_init(&options);
    wmd_segment* seg = nullptr;
    if (wmd_open(name.c_str(), &options, &seg) != WMD_OK) ::_exit(2);
    if (wmd_register_writer(seg, WMD_WRITER_KERNEL_TRACKING) != WMD_OK) ::_exit(3);
    auto* data = static_cast<volatile std::uint8_t*>(wmd_base(seg));
    char reply = 'r';
    (void)::write(reply_fd, &reply, 1);
    for (;;) {
      char command = 0;
      if (::read(command_fd, &command, 1) != 1 || command == 'q') break;
      if (command == 'w') {
        data[1 * kPage + 3] = 7;
        data[5 * kPage] = 9;
      } else if (command == 'g') {
        if (wmd_grow(seg, 128 * kPage) != WMD_OK) ::_exit(4);
        data[100 * kPage] = 1;
      }
      (void)::write(reply_fd, &command, 1);
    }
    wmd_close(seg);
    char done = 'q';
    (void)::write(reply_fd, &done, 1);
    ::_exit(0);
  }

  pid_t pid_ = -1;
  int command_fd_ = -1;
  int reply_fd_ = -1;
};

// The registry as the daemon sees it (what Segment::writers() returns), read from /NAME.ctl.
class Registry {
 public:
  explicit Registry(const std::string& name) {
    const int fd = ::open(("/dev/shm" + name + WMD_CTL_SUFFIX).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* mapped = ::mmap(nullptr, sizeof(wmd_ctl), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(mapped != MAP_FAILED);
    ctl_ = static_cast<const wmd_ctl*>(mapped);
  }
  ~Registry() { ::munmap(const_cast<wmd_ctl*>(ctl_), sizeof(wmd_ctl)); }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  std::vector<WriterRecord> writers() const {
    std::vector<WriterRecord> records;
    for (std::uint32_t slot = 0; slot < WMD_MAX_WRITERS; ++slot) {
      const wmd_ctl_writer& w = ctl_->writers[slot];
      const std::uint32_t flags = __atomic_load_n(&w.flags, __ATOMIC_ACQUIRE);
      if ((flags & WMD_WRITER_READY) == 0) continue;
      WriterRecord record;
      record.slot = slot;
      record.pid = __atomic_load_n(&w.pid, __ATOMIC_RELAXED);
      record.start_time_ticks = __atomic_load_n(&w.start_time_ticks, __ATOMIC_RELAXED);
      record.address = __atomic_load_n(&w.address, __ATOMIC_RELAXED);
      record.length_bytes = __atomic_load_n(&w.length_bytes, __ATOMIC_RELAXED);
      record.kernel_tracking = (flags & WMD_WRITER_KERNEL_TRACKING) != 0;
      records.push_back(record);
    }
    return records;
  }

 private:
  const wmd_ctl* ctl_ = nullptr;
};

TEST_CASE("a libwmd writer registered with kernel tracking is tracked through growth and exit") {
  const KernelProbe probe = probe_kernel_tracking();
  if (!probe.verified_in_process) {
    MESSAGE("skipped: kernel dirty tracking unsupported: " << probe.reason);
    return;
  }
  static std::atomic<int> counter{0};
  const std::string name =
      "/wmd-kt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  wmd_unlink(name.c_str());
  wmd_options options;
  wmd_options_init(&options);
  options.flags = WMD_OPEN_CREATE;
  options.min_size_bytes = 64 * kPage;
  options.max_size_bytes = 256 * kPage;
  options.page_size_bytes = kPage;
  wmd_segment* owner = nullptr;
  REQUIRE(wmd_open(name.c_str(), &options, &owner) == WMD_OK);
  {
    Registry registry(name);
    KernelTracker tracker(KernelTrackerConfig{kPage, std::chrono::milliseconds(10'000), true});
    std::int32_t child_pid = 0;
    {
      LibwmdChild child(name);
      child_pid = child.pid();
      std::vector<WriterRecord> writers = registry.writers();
      REQUIRE(writers.size() == 1);
      CHECK(writers[0].pid == child.pid());
      CHECK(writers[0].kernel_tracking);
      CHECK(writers[0].length_bytes == 64 * kPage);

      CHECK_FALSE(tracker.collect(writers, Clock::time_point{}).candidates_complete);
      child.ask('w');
      CollectRound round = tracker.collect(writers, Clock::time_point{});
      CHECK(round.candidates_complete);
      CHECK(round.candidate_pages == std::vector<std::uint64_t>{1, 5});

      child.ask('g');  // growth: the registry's length changes, the tail is protected
      writers = registry.writers();
      REQUIRE(writers.size() == 1);
      CHECK(writers[0].length_bytes == 128 * kPage);
      CHECK(writers[0].kernel_tracking);
      round = tracker.collect(writers, Clock::time_point{});
      CHECK_FALSE(round.candidates_complete);  // one hash round covers the growth
      CHECK(round.candidate_pages == std::vector<std::uint64_t>{100});
      child.ask('w');
      round = tracker.collect(writers, Clock::time_point{});
      CHECK(round.candidates_complete);
      CHECK(round.candidate_pages == std::vector<std::uint64_t>{1, 5});
    }
    // wmd_close unregistered the writer: the daemon's next round says so.
    const std::vector<WriterRecord> after = registry.writers();
    CHECK(after.empty());
    const CollectRound gone = tracker.collect(after, Clock::time_point{});
    CHECK(std::any_of(gone.events.begin(), gone.events.end(), [&](const WriterEvent& e) {
      return e.kind == WriterEventKind::gone && e.pid == child_pid;
    }));
    CHECK_FALSE(gone.candidates_complete);
  }
  wmd_close(owner);
  wmd_unlink(name.c_str());
}

}  // namespace
}  // namespace wmd::kernel
