// What the serving daemon does about local damage: one server per segment (ServingLock), a
// damaged control object rebuilt, a truncated object restored instead of a SIGBUS.
#include <doctest/doctest.h>
#include <unistd.h>

#include "daemon/segment/segment.hpp"
#include "daemon/segment/serving_lock.hpp"
#include "daemon/segment/truncation_guard.hpp"
#include "tests/unit/segment/shm_fixture.hpp"

namespace wmd {
namespace {

using testing::ShmName;

constexpr std::uint32_t kPage = 8192;
constexpr std::uint64_t kMax = 64 * kPage;

SegmentConfig serving_config(const ShmName& name, std::uint64_t size_bytes) {
  SegmentConfig config;
  config.name = name.str();
  config.size_bytes = size_bytes;
  config.max_size_bytes = kMax;
  config.page_size_bytes = kPage;
  config.rebuild_damaged_control = true;
  return config;
}

void truncate_object(const std::string& path, off_t size) {
  const int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, size) == 0);
  ::close(fd);
}

TEST_CASE("a segment has one serving lock holder at a time, whatever its control object says") {
  ShmName name;
  auto first = ServingLock::acquire(name.str());
  REQUIRE(first.ok());
  auto second = ServingLock::acquire(name.str());
  CHECK(second.error() == errc::invalid_config);
  CHECK(second.error().detail().find("another wmdd serves") != std::string::npos);
  first.value().reset();
  CHECK(ServingLock::acquire(name.str()).ok());
}

TEST_CASE("a lock that was never used leaves no state object behind") {
  ShmName name;
  { REQUIRE(ServingLock::acquire(name.str()).ok()); }
  CHECK(::access(name.state_path().c_str(), F_OK) != 0);
}

TEST_CASE("a truncated control object is rebuilt for the serving daemon, refused otherwise") {
  ShmName name;
  {
    auto segment = Segment::open(serving_config(name, 4 * kPage));
    REQUIRE(segment.ok());
  }
  truncate_object(name.ctl_path(), 100);
  SegmentConfig attach = serving_config(name, 0);
  attach.rebuild_damaged_control = false;
  CHECK_FALSE(Segment::open(attach).ok());

  auto rebuilt = Segment::open(serving_config(name, 0));
  INFO(rebuilt.error().message());
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt.value()->repair_note().find("rebuilt") != std::string::npos);
  CHECK(rebuilt.value()->control_size_bytes() == 4 * kPage);  // from the data object
  CHECK(rebuilt.value()->page_size_bytes() == kPage);
}

TEST_CASE("a data object truncated under a guarded mapping is restored, not a SIGBUS") {
  ShmName name;
  auto segment = Segment::open(serving_config(name, 4 * kPage));
  REQUIRE(segment.ok());
  segment.value()->guard_against_truncation();
  segment.value()->bytes()[3 * kPage] = 7;
  truncate_object(name.data_path(), kPage);
  // The access past the cut faults; the handler restores the size and the access retries.
  CHECK(segment.value()->bytes()[3 * kPage] == 0);
  segment.value()->bytes()[3 * kPage] = 9;
  const TruncatedMask mask = check_guarded_objects();
  CHECK(truncated(mask, GuardedObject::data));
  CHECK_FALSE(truncated(mask, GuardedObject::control));
  CHECK(check_guarded_objects() == 0);
  unguard_mapping(GuardedObject::data);
  unguard_mapping(GuardedObject::control);
}

}  // namespace
}  // namespace wmd
