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

TEST_CASE("state bytes written by pwritev and read by preadv match the mapping, within its size") {
  ShmName name;
  auto opened = StateStore::open(name.str(), 65536, 0600);
  REQUIRE(opened.ok());
  StateStore& store = *opened.value();
  const std::vector<std::uint8_t> a(4096, 0x11), b(4096, 0x22);
  const StorageWrite writes[] = {{8192, a}, {12288, b}};  // consecutive: one pwritev
  REQUIRE(store.write(writes).ok());
  CHECK(store.bytes()[8192] == 0x11);
  CHECK(store.bytes()[12288 + 4095] == 0x22);
  // Consecutive reads (one preadv), then one elsewhere, then one before: in the order given.
  std::vector<std::uint8_t> out(4 * 4096, 0xff);
  const std::span<std::uint8_t> slot(out);
  const StorageRead reads[] = {{8192, slot.subspan(0, 4096)},
                               {12288, slot.subspan(4096, 4096)},
                               {32768, slot.subspan(8192, 4096)},
                               {12288 + 4000, slot.subspan(12288, 96)}};
  REQUIRE(store.read(reads).ok());
  CHECK(std::equal(out.begin(), out.begin() + 4096, a.begin()));
  CHECK(std::equal(out.begin() + 4096, out.begin() + 8192, b.begin()));
  CHECK(std::all_of(out.begin() + 8192, out.begin() + 12288, [](auto v) { return v == 0; }));
  CHECK(
      std::all_of(out.begin() + 12288, out.begin() + 12288 + 96, [](auto v) { return v == 0x22; }));
  CHECK(out[12288 + 96] == 0xff);  // nothing past what was asked
  const StorageRead last[] = {{65536 - 4096, slot.first(4096)}};
  CHECK(store.read(last).ok());
  const StorageRead over[] = {{0, slot.first(4096)}, {65536 - 4095, slot.first(4096)}};
  out[0] = 0xff;
  CHECK(store.read(over).error() == make_error_code(errc::out_of_range));
  CHECK(out[0] == 0xff);  // nothing read when any entry is out of range
  const StorageWrite past[] = {{65536 - 10, a}};
  CHECK(store.write(past).error() == make_error_code(errc::out_of_range));
}

}  // namespace
}  // namespace wmd
