// SegmentTail: whether a segment holds data beyond a module's memory (attachSegment grows the
// memory only then).
#include "client/node/src/segment_tail.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wmd::node {
namespace {

constexpr std::size_t kSize = 1 << 20;

// A shared-memory object mapped like a segment's data object; unlinked at the end.
struct ShmObject {
  ShmObject() : name("/wmd-tail-test-" + std::to_string(getpid())) {
    const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, kSize) == 0);
    void* mapped = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    REQUIRE(mapped != MAP_FAILED);
    bytes = {static_cast<std::uint8_t*>(mapped), kSize};
  }
  ~ShmObject() {
    munmap(bytes.data(), bytes.size());
    shm_unlink(name.c_str());
  }
  std::string name;
  std::span<std::uint8_t> bytes;
};

}  // namespace

TEST_CASE("all_zero finds a single non-zero byte anywhere") {
  std::vector<std::uint8_t> bytes(4097, 0);
  CHECK(all_zero(bytes));
  CHECK(all_zero(std::span<const std::uint8_t>()));
  for (std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{2048}, std::size_t{4096}}) {
    bytes[at] = 7;
    CHECK_FALSE(all_zero(bytes));
    bytes[at] = 0;
  }
}

TEST_CASE("a never-written tail holds no data; a byte written beyond the memory does") {
  ShmObject shm;
  const SegmentTail tail(shm.name);
  CHECK_FALSE(tail.holds_data(shm.bytes, 0));
  shm.bytes[1000] = 1;  // inside the module's memory: not the tail's business
  CHECK_FALSE(tail.holds_data(shm.bytes, 256 * 1024));
  shm.bytes[900 * 1024 + 5] = 9;
  CHECK(tail.holds_data(shm.bytes, 256 * 1024));
  CHECK(tail.holds_data(shm.bytes, 900 * 1024 + 5));
  CHECK_FALSE(tail.holds_data(shm.bytes, 900 * 1024 + 6));
  CHECK_FALSE(tail.holds_data(shm.bytes, kSize));
}

TEST_CASE("pages that were written back to zero count as no data") {
  ShmObject shm;
  const SegmentTail tail(shm.name);
  shm.bytes[700 * 1024] = 3;
  CHECK(tail.holds_data(shm.bytes, 512 * 1024));
  shm.bytes[700 * 1024] = 0;  // the page stays allocated (data, not a hole) but is zero
  CHECK_FALSE(tail.holds_data(shm.bytes, 512 * 1024));
}

TEST_CASE("without the data object's holes the tail is read, with the same answers") {
  ShmObject shm;
  const SegmentTail blind("/wmd-tail-test-missing-object");
  CHECK_FALSE(blind.holds_data(shm.bytes, 512 * 1024));
  shm.bytes[kSize - 1] = 1;
  CHECK(blind.holds_data(shm.bytes, 512 * 1024));
}

}  // namespace wmd::node
