// StateStore: the engine's persistent state beside the segment survives its process.
#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/segment/segment.hpp"
#include "tests/unit/segment/shm_fixture.hpp"

namespace wmd {
namespace {

using testing::ShmName;

TEST_CASE("a new state object is created zero-filled at the asked size") {
  ShmName name;
  auto store = StateStore::open(name.str(), 1 << 20, 0600);
  INFO(store.error().message());
  REQUIRE(store.ok());
  CHECK(store.value()->created());
  auto bytes = store.value()->bytes();
  REQUIRE(bytes.size() == (1u << 20));
  CHECK(std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; }));
  CHECK(testing::file_mode(name.state_path()) == 0600);
}

TEST_CASE("a reopened state object resumes with the bytes written before") {
  ShmName name;
  {
    auto store = StateStore::open(name.str(), 65536, 0600);
    REQUIRE(store.ok());
    store.value()->bytes()[1234] = 0x5a;
  }
  auto again = StateStore::open(name.str(), 65536, 0600);
  REQUIRE(again.ok());
  CHECK_FALSE(again.value()->created());
  CHECK(again.value()->bytes()[1234] == 0x5a);
}

TEST_CASE("a state object asked for larger grows, keeping its bytes") {
  ShmName name;
  {
    auto store = StateStore::open(name.str(), 65536, 0600);
    REQUIRE(store.ok());
    store.value()->bytes()[10] = 1;
  }
  auto bigger = StateStore::open(name.str(), 131072, 0600);
  REQUIRE(bigger.ok());
  CHECK(bigger.value()->bytes().size() == 131072);
  CHECK(bigger.value()->bytes()[10] == 1);
}

TEST_CASE("a state object writable by others is refused") {
  ShmName name;
  { REQUIRE(StateStore::open(name.str(), 65536, 0600).ok()); }
  REQUIRE(::chmod(name.state_path().c_str(), 0666) == 0);
  auto store = StateStore::open(name.str(), 65536, 0600);
  CHECK(store.error() == errc::invalid_config);
}

TEST_CASE("a bad name or a zero size is invalid_config") {
  CHECK(StateStore::open("nope", 4096, 0600).error() == errc::invalid_config);
  ShmName name;
  CHECK(StateStore::open(name.str(), 0, 0600).error() == errc::invalid_config);
}

TEST_CASE("state bytes written by pwritev and read by pread match the mapping, within its size") {
  ShmName name;
  auto opened = StateStore::open(name.str(), 65536, 0600);
  REQUIRE(opened.ok());
  StateStore& store = *opened.value();
  const std::vector<std::uint8_t> a(4096, 0x11), b(4096, 0x22);
  const StorageWrite writes[] = {{8192, a}, {12288, b}};  // consecutive: one pwritev
  REQUIRE(store.write(writes).ok());
  CHECK(store.bytes()[8192] == 0x11);
  CHECK(store.bytes()[12288 + 4095] == 0x22);
  std::vector<std::uint8_t> out(8192);
  REQUIRE(store.read(8192, out).ok());
  CHECK(std::equal(out.begin(), out.begin() + 4096, a.begin()));
  CHECK(std::equal(out.begin() + 4096, out.end(), b.begin()));
  CHECK(store.read(65536 - 4096, std::span(out).first(4096)).ok());
  CHECK(store.read(65536 - 4095, std::span(out).first(4096)).error() ==
        make_error_code(errc::out_of_range));
  const StorageWrite past[] = {{65536 - 10, a}};
  CHECK(store.write(past).error() == make_error_code(errc::out_of_range));
}

}  // namespace
}  // namespace wmd
