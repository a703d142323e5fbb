// The C++ RAII wrapper (wmd.hpp): ownership, error policy and the common calls.
#include <wmd/wmd.hpp>

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace {

struct UniqueName {
  UniqueName() : value("/wmd-cpptest-" + std::to_string(::getpid()) + "-" + std::to_string(n++)) {}
  ~UniqueName() { (void)wmd_unlink(value.c_str()); }
  std::string value;
  static inline int n = 0;
};

wmd::OpenOptions creating(std::uint64_t size_bytes) {
  wmd::OpenOptions options;
  options.create = true;
  options.min_size_bytes = size_bytes;
  options.max_size_bytes = 1 << 20;
  options.page_size_bytes = 8192;
  return options;
}

TEST_CASE("a missing segment throws wmd::Error with the code and the details") {
  UniqueName name;
  try {
    wmd::Segment segment(name.value);
    FAIL("no exception");
  } catch (const wmd::Error& e) {
    CHECK(e.code() == WMD_ENOENT);
    CHECK(std::string(e.what()).find(name.value) != std::string::npos);
  }
}

TEST_CASE("the wrapper creates, grows and refreshes with a stable base") {
  UniqueName name;
  wmd::Segment segment(name.value, creating(8192));
  auto* const base = segment.bytes().data();
  segment.bytes()[5] = 5;
  wmd::Segment other(name.value);
  segment.grow(4 * 8192);
  CHECK(segment.bytes().data() == base);
  CHECK(segment.size() == 4 * 8192);
  CHECK(other.size() == 8192);
  CHECK(other.refresh() == 4 * 8192);
  CHECK(other.bytes()[5] == 5);
  CHECK_THROWS_AS(segment.grow(2 << 20), wmd::Error);
}

TEST_CASE("flush and wait report ordinary outcomes as values") {
  UniqueName name;
  wmd::Segment segment(name.value, creating(8192));
  CHECK(segment.flush(std::chrono::milliseconds(10)) == wmd::WaitOutcome::no_daemon);
  CHECK(segment.wait(std::chrono::milliseconds(10)) == wmd::WaitOutcome::timed_out);
  CHECK(segment.status().daemon_pid == 0);
}

TEST_CASE("a moved-from segment owns nothing and the new owner keeps the mapping") {
  UniqueName name;
  wmd::Segment first(name.value, creating(8192));
  void* const base = first.base();
  wmd::Segment second(std::move(first));
  CHECK(first.handle() == nullptr);  // NOLINT(bugprone-use-after-move): checking the contract
  CHECK(second.base() == base);
  second.register_writer();
  second.unregister_writer();
}

}  // namespace
