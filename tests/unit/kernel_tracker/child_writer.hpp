// Test helpers for kernel dirty tracking: a shared memfd the test process maps (as the daemon
// maps the data object), a forked writer process that maps the same object, optionally
// registers it with userfaultfd WP_ASYNC, and writes on command, and a page-hash shadow that
// finds changed pages the way the daemon's hash scan does.
// Thread-safety: test-only; one owner.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "shm/uffd_writer.hpp"
#include "daemon/segment/segment.hpp"
#include "daemon/tracker/kernel/process_identity.hpp"

namespace wmd::testing {

// A MAP_SHARED memfd of length_bytes, mapped in this process.
class SharedMemory {
 public:
  explicit SharedMemory(std::uint64_t length_bytes) : length_bytes_(length_bytes) {
    fd_ = ::memfd_create("wmd-kernel-tracker-test", MFD_CLOEXEC);
    if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(length_bytes)) != 0) return;
    void* address = ::mmap(nullptr, length_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (address != MAP_FAILED) data_ = static_cast<std::uint8_t*>(address);
  }
  ~SharedMemory() {
    if (data_ != nullptr) ::munmap(data_, length_bytes_);
    if (fd_ >= 0) ::close(fd_);
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;

  bool ok() const { return data_ != nullptr; }
  int fd() const { return fd_; }
  std::uint8_t* data() const { return data_; }
  std::uint64_t length_bytes() const { return length_bytes_; }
  std::span<const std::uint8_t> bytes() const { return {data_, length_bytes_}; }

 private:
  std::uint64_t length_bytes_;
  int fd_ = -1;
  std::uint8_t* data_ = nullptr;
};

// A child process that maps the object and writes into it on command. Every command waits for
// the child's acknowledgement, so the writes are complete when it returns.
class ChildWriter {
 public:
  enum class Registration { uffd_wp_async, none };

  // Forks; the child maps the whole object, touches every page (a running writer's memory is
  // populated; populate_bytes limits that to a working set at the start), registers it when
  // asked, reports its mapping, then serves commands.
  ChildWriter(const SharedMemory& memory, Registration registration,
              std::uint64_t populate_bytes = UINT64_MAX) {
    int to_child[2];
    int to_parent[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(to_parent, O_CLOEXEC) != 0) return;
    const pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
      ::close(to_child[1]);
      ::close(to_parent[0]);
      serve(memory.fd(), memory.length_bytes(), std::min(populate_bytes, memory.length_bytes()),
            registration, to_child[0], to_parent[1]);
      ::_exit(0);
    }
    ::close(to_child[0]);
    ::close(to_parent[1]);
    pid_ = pid;
    command_fd_ = to_child[1];
    reply_fd_ = to_parent[0];
    Hello hello{};
    if (!read_all(reply_fd_, &hello, sizeof hello)) return;
    address_ = hello.address;
    length_bytes_ = memory.length_bytes();
    kernel_tracking_ = hello.registered != 0;
    start_time_ticks_ = kernel::live_process_start_time_ticks(pid_);
  }

  ~ChildWriter() { exit_and_reap(); }
  ChildWriter(const ChildWriter&) = delete;
  ChildWriter& operator=(const ChildWriter&) = delete;

  bool started() const { return address_ != 0; }
  pid_t pid() const { return pid_; }
  bool kernel_tracking() const { return kernel_tracking_; }
  std::uint64_t address() const { return address_; }

  WriterRecord record(std::uint32_t slot) const {
    WriterRecord record;
    record.slot = slot;
    record.pid = pid_;
    record.start_time_ticks = start_time_ticks_;
    record.address = address_;
    record.length_bytes = length_bytes_;
    record.kernel_tracking = kernel_tracking_;
    return record;
  }

  // Increments the byte at each offset (so every write changes the memory).
  void increment(std::span<const std::uint64_t> offsets) {
    const Command command{kIncrement, offsets.size()};
    write_all(command_fd_, &command, sizeof command);
    write_all(command_fd_, offsets.data(), offsets.size_bytes());
    std::uint64_t ack = 0;
    read_all(reply_fd_, &ack, sizeof ack);
  }

  // Asks the child to exit and waits for it (no zombie left behind).
  void exit_and_reap() {
    if (pid_ <= 0) return;
    const Command command{kExit, 0};
    write_all(command_fd_, &command, sizeof command);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(command_fd_);
    ::close(reply_fd_);
    pid_ = -1;
  }

 private:
  static constexpr std::uint64_t kIncrement = 1;
  static constexpr std::uint64_t kExit = 2;
  struct Command {
    std::uint64_t op;
    std::uint64_t count;
  };
  struct Hello {
    std::uint64_t address;
    std::uint64_t registered;
  };

  static bool read_all(int fd, void* buffer, std::size_t size) {
    auto* cursor = static_cast<std::uint8_t*>(buffer);
    while (size > 0) {
      const ssize_t n = ::read(fd, cursor, size);
      if (n <= 0) return false;
      cursor += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }
  static bool write_all(int fd, const void* buffer, std::size_t size) {
    const auto* cursor = static_cast<const std::uint8_t*>(buffer);
    while (size > 0) {
      const ssize_t n = ::write(fd, cursor, size);
      if (n <= 0) return false;
      cursor += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  [[noreturn]] static void serve(int memory_fd, std::uint64_t length, std::uint64_t populate_bytes,
                                 Registration registration, int command_fd, int reply_fd) {
    void* mapped = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, memory_fd, 0);
    if (mapped == MAP_FAILED) ::_exit(3);
    auto* data = static_cast<volatile std::uint8_t*>(mapped);
    const long page = ::sysconf(_SC_PAGESIZE);
    for (std::uint64_t offset = 0; offset < populate_bytes;
         offset += static_cast<std::uint64_t>(page)) {
      data[offset] = data[offset];  // populate (read and write) before registering
    }
    core::UffdWriteTracking tracking;
    Hello hello{reinterpret_cast<std::uint64_t>(mapped), 0};
    if (registration == Registration::uffd_wp_async) {
      hello.registered = tracking.start(mapped, length) ? 0 : 1;
    }
    write_all(reply_fd, &hello, sizeof hello);
    std::vector<std::uint64_t> offsets;
    for (;;) {
      Command command{};
      if (!read_all(command_fd, &command, sizeof command) || command.op == kExit) ::_exit(0);
      offsets.resize(command.count);
      if (!read_all(command_fd, offsets.data(), offsets.size() * sizeof(std::uint64_t))) {
        ::_exit(4);
      }
      for (const std::uint64_t offset : offsets) data[offset] = data[offset] + 1;
      const std::uint64_t ack = 1;
      write_all(reply_fd, &ack, sizeof ack);
    }
  }

  pid_t pid_ = -1;
  int command_fd_ = -1;
  int reply_fd_ = -1;
  std::uint64_t address_ = 0;
  std::uint64_t length_bytes_ = 0;
  std::uint64_t start_time_ticks_ = 0;
  bool kernel_tracking_ = false;
};

// XXH3 per page against stored hashes: what the daemon's hash scan finds.
class PageHashes {
 public:
  PageHashes(std::span<const std::uint8_t> memory, std::uint32_t page_size_bytes)
      : memory_(memory), page_size_bytes_(page_size_bytes) {
    for (std::uint64_t page = 0; page < memory.size() / page_size_bytes; ++page) {
      hashes_.push_back(hash(page));
    }
  }
  // Of the given pages, those whose bytes differ from their stored hash; stores their new hashes
  // (the daemon's kernel round: only the candidates are hashed).
  std::vector<std::uint64_t> absorb_pages(std::span<const std::uint64_t> pages) {
    std::vector<std::uint64_t> changed;
    for (const std::uint64_t page : pages) {
      const std::uint64_t now = hash(page);
      if (now != hashes_[page]) {
        hashes_[page] = now;
        changed.push_back(page);
      }
    }
    return changed;
  }

  // Pages whose bytes differ from their stored hash, ascending; stores the new hashes.
  std::vector<std::uint64_t> absorb_changed() {
    std::vector<std::uint64_t> changed;
    for (std::uint64_t page = 0; page < hashes_.size(); ++page) {
      const std::uint64_t now = hash(page);
      if (now != hashes_[page]) {
        hashes_[page] = now;
        changed.push_back(page);
      }
    }
    return changed;
  }

 private:
  std::uint64_t hash(std::uint64_t page) const {
    return XXH3_64bits(memory_.data() + page * page_size_bytes_, page_size_bytes_);
  }
  std::span<const std::uint8_t> memory_;
  std::uint32_t page_size_bytes_;
  std::vector<std::uint64_t> hashes_;
};

}  // namespace wmd::testing
