// Segment: creation, attachment, growth, and refusal of objects that are not ours.
#include "daemon/segment/segment.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstring>

#include "tests/unit/segment/shm_fixture.hpp"

namespace wmd {
namespace {

using testing::CtlView;
using testing::ShmName;

constexpr std::uint32_t kPage = 8192;
constexpr std::uint64_t kMax = 64 * kPage;

SegmentConfig config_for(const ShmName& name, std::uint64_t size_bytes) {
  SegmentConfig config;
  config.name = name.str();
  config.size_bytes = size_bytes;
  config.max_size_bytes = kMax;
  config.page_size_bytes = kPage;
  return config;
}

std::unique_ptr<Segment> must_open(const SegmentConfig& config) {
  auto segment = Segment::open(config);
  INFO("open failed: " << segment.error().message());
  REQUIRE(segment.ok());
  return std::move(segment).value();
}

TEST_CASE("creating a segment makes a data object of exactly the asked size") {
  ShmName name;
  auto segment = must_open(config_for(name, 4 * kPage));
  CHECK(segment->bytes().size() == 4 * kPage);
  CHECK(segment->mapped_size_bytes() == 4 * kPage);
  CHECK(segment->control_size_bytes() == 4 * kPage);
  CHECK(segment->max_size_bytes() == kMax);
  CHECK(segment->page_size_bytes() == kPage);
  CHECK(testing::file_size(name.data_path()) == 4 * kPage);
  CHECK(testing::file_size(name.ctl_path()) == sizeof(wmd_ctl));
  CtlView ctl(name.ctl());
  REQUIRE(ctl.get() != nullptr);
  CHECK(ctl->magic == WMD_CTL_MAGIC);
  CHECK(ctl->layout_version == WMD_LAYOUT_VERSION);
  CHECK(ctl->page_size_bytes == kPage);
  CHECK(ctl->max_size_bytes == kMax);
}

TEST_CASE("a size that is not a page multiple is rounded up to one") {
  ShmName name;
  auto segment = must_open(config_for(name, kPage + 1));
  CHECK(segment->bytes().size() == 2 * kPage);
  CHECK(testing::file_size(name.data_path()) == 2 * kPage);
}

TEST_CASE("the data object holds exactly the bytes written through the mapping") {
  ShmName name;
  auto segment = must_open(config_for(name, 2 * kPage));
  auto bytes = segment->bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const auto on_disk = testing::read_file(name.data_path());
  REQUIRE(on_disk.size() == bytes.size());
  CHECK(std::memcmp(on_disk.data(), bytes.data(), bytes.size()) == 0);
}

TEST_CASE("attaching with size 0 maps the existing segment and its bytes") {
  ShmName name;
  auto creator = must_open(config_for(name, 3 * kPage));
  creator->bytes()[100] = 42;
  auto attached = must_open(config_for(name, 0));
  CHECK(attached->bytes().size() == 3 * kPage);
  CHECK(attached->bytes()[100] == 42);
  attached->bytes()[200] = 7;
  CHECK(creator->bytes()[200] == 7);
}

TEST_CASE("attaching to a missing segment is an io_error naming the object") {
  ShmName name;
  auto segment = Segment::open(config_for(name, 0));
  REQUIRE_FALSE(segment.ok());
  CHECK(segment.error() == errc::io_error);
  CHECK(segment.error().detail().find(name.str()) != std::string::npos);
}

TEST_CASE("a bad segment name or maximum is invalid_config") {
  ShmName name;
  SegmentConfig config = config_for(name, kPage);
  config.name = "/a/b";
  CHECK(Segment::open(config).error() == errc::invalid_config);
  config = config_for(name, kPage);
  config.max_size_bytes = kMax + 1;
  CHECK(Segment::open(config).error() == errc::invalid_config);
  config = config_for(name, kMax + kPage);
  CHECK(Segment::open(config).error() == errc::beyond_max_size);
}

TEST_CASE("growth keeps the base address, bumps the generation and reaches other mappings") {
  ShmName name;
  auto first = must_open(config_for(name, kPage));
  auto second = must_open(config_for(name, 0));
  std::uint8_t* const base = first->bytes().data();
  const std::uint64_t generation = first->generation();
  first->bytes()[0] = 1;

  auto grown = first->grow(5 * kPage);
  REQUIRE(grown.ok());
  CHECK(grown->data() == base);
  CHECK(grown->size() == 5 * kPage);
  CHECK(first->generation() == generation + 1);
  CHECK(testing::file_size(name.data_path()) == 5 * kPage);
  first->bytes()[5 * kPage - 1] = 9;

  // The other mapping learns the size from the control object and maps it on request.
  CHECK(second->mapped_size_bytes() == kPage);
  CHECK(second->control_size_bytes() == 5 * kPage);
  std::uint8_t* const second_base = second->bytes().data();
  REQUIRE(second->grow(second->control_size_bytes()).ok());
  CHECK(second->bytes().data() == second_base);
  CHECK(second->bytes()[5 * kPage - 1] == 9);
  CHECK(second->bytes()[0] == 1);
  CHECK(second->generation() == generation + 1);  // nothing changed: no bump
}

TEST_CASE("growth is idempotent and never shrinks") {
  ShmName name;
  auto segment = must_open(config_for(name, 4 * kPage));
  const std::uint64_t generation = segment->generation();
  REQUIRE(segment->grow(2 * kPage).ok());
  REQUIRE(segment->grow(4 * kPage).ok());
  CHECK(segment->bytes().size() == 4 * kPage);
  CHECK(segment->generation() == generation);
  CHECK(testing::file_size(name.data_path()) == 4 * kPage);
}

TEST_CASE("growth beyond the maximum size is refused and changes nothing") {
  ShmName name;
  auto segment = must_open(config_for(name, kPage));
  auto grown = segment->grow(kMax + kPage);
  CHECK(grown.error() == errc::beyond_max_size);
  CHECK(segment->bytes().size() == kPage);
  CHECK(segment->control_size_bytes() == kPage);
  CHECK(testing::file_size(name.data_path()) == kPage);
}

TEST_CASE("attaching with a larger size grows the existing segment") {
  ShmName name;
  auto creator = must_open(config_for(name, kPage));
  auto bigger = must_open(config_for(name, 3 * kPage));
  CHECK(bigger->bytes().size() == 3 * kPage);
  CHECK(creator->control_size_bytes() == 3 * kPage);
  CHECK(creator->generation() == 1);
}

// Opening must fail with `expected` and leave both objects byte-for-byte as they were.
// Returns the error's detail.
std::string check_refused_untouched(const ShmName& name, const SegmentConfig& config,
                                    errc expected) {
  const auto ctl_before = testing::read_file(name.ctl_path());
  const auto data_before = testing::read_file(name.data_path());
  const unsigned ctl_mode = testing::file_mode(name.ctl_path());
  auto segment = Segment::open(config);
  REQUIRE_FALSE(segment.ok());
  CHECK(segment.error() == expected);
  CHECK_FALSE(segment.error().detail().empty());
  CHECK(testing::read_file(name.ctl_path()) == ctl_before);
  CHECK(testing::read_file(name.data_path()) == data_before);
  CHECK(testing::file_mode(name.ctl_path()) == ctl_mode);
  return segment.error().detail();
}

TEST_CASE("a control object with the wrong magic is refused and left untouched") {
  ShmName name;
  { must_open(config_for(name, 2 * kPage)); }
  {
    CtlView ctl(name.ctl());
    ctl->magic = 0x0123456789abcdefULL;
  }
  check_refused_untouched(name, config_for(name, 4 * kPage), errc::bad_magic);
  check_refused_untouched(name, config_for(name, 0), errc::bad_magic);
}

TEST_CASE("a control object that is some other file is refused and left untouched") {
  ShmName name;
  const int fd = ::shm_open(name.ctl().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  const char text[] = "this is not a wmd control object, just some text";
  REQUIRE(::write(fd, text, sizeof text) == static_cast<ssize_t>(sizeof text));
  ::close(fd);
  check_refused_untouched(name, config_for(name, 4 * kPage), errc::bad_magic);
}

TEST_CASE("a control object from another layout version is refused and left untouched") {
  ShmName name;
  { must_open(config_for(name, 2 * kPage)); }
  {
    CtlView ctl(name.ctl());
    ctl->layout_version = WMD_LAYOUT_VERSION + 1;
  }
  check_refused_untouched(name, config_for(name, 4 * kPage), errc::bad_layout_version);
}

TEST_CASE("a segment with another page size is refused and left untouched") {
  ShmName name;
  { must_open(config_for(name, 2 * kPage)); }
  SegmentConfig config = config_for(name, 4 * kPage);
  config.page_size_bytes = 2 * kPage;
  CHECK(check_refused_untouched(name, config, errc::page_size_mismatch).find("page size") !=
        std::string::npos);
}

TEST_CASE("objects are created with exactly the asked mode, whatever the umask") {
  ShmName name;
  const mode_t old_umask = ::umask(0);
  { must_open(config_for(name, kPage)); }
  CHECK(testing::file_mode(name.data_path()) == 0600);
  CHECK(testing::file_mode(name.ctl_path()) == 0600);
  ShmName other;
  ::umask(0077);
  SegmentConfig config = config_for(other, kPage);
  config.mode = 0640;
  { must_open(config); }
  ::umask(old_umask);
  CHECK(testing::file_mode(other.data_path()) == 0640);
  CHECK(testing::file_mode(other.ctl_path()) == 0640);
}

TEST_CASE("a segment others can write is refused unless allowed") {
  ShmName name;
  { must_open(config_for(name, kPage)); }
  REQUIRE(::chmod(name.data_path().c_str(), 0666) == 0);
  CHECK(check_refused_untouched(name, config_for(name, 0), errc::invalid_config).find("writable") !=
        std::string::npos);

  SegmentConfig allowed = config_for(name, 0);
  allowed.allow_foreign_writable = true;
  CHECK(Segment::open(allowed).ok());

  // A mode that grants group writes accepts a group-writable object.
  REQUIRE(::chmod(name.data_path().c_str(), 0660) == 0);
  SegmentConfig group = config_for(name, 0);
  group.mode = 0660;
  CHECK(Segment::open(group).ok());
}

TEST_CASE("a writable-by-others control object is refused too") {
  ShmName name;
  { must_open(config_for(name, kPage)); }
  REQUIRE(::chmod(name.ctl_path().c_str(), 0622) == 0);
  check_refused_untouched(name, config_for(name, 0), errc::invalid_config);
}

TEST_CASE("processes creating the same segment at once all get the same segment") {
  ShmName name;
  constexpr int kProcesses = 6;
  pid_t children[kProcesses];
  for (int i = 0; i < kProcesses; ++i) {
    children[i] = ::fork();
    REQUIRE(children[i] >= 0);
    if (children[i] == 0) {
      auto segment = Segment::open(config_for(name, (1 + i % 3) * kPage));
      ::_exit(segment.ok() && segment.value()->page_size_bytes() == kPage ? 0 : 1);
    }
  }
  for (pid_t child : children) {
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto segment = must_open(config_for(name, 0));
  CHECK(segment->control_size_bytes() == 3 * kPage);
  CHECK(testing::file_size(name.data_path()) == 3 * kPage);
}

TEST_CASE("a data object larger than the control size is mapped only up to the control size") {
  ShmName name;
  { must_open(config_for(name, 2 * kPage)); }
  REQUIRE(::truncate(name.data_path().c_str(), 4 * kPage) == 0);
  auto segment = must_open(config_for(name, 0));
  CHECK(segment->mapped_size_bytes() == 2 * kPage);
  CHECK(segment->control_size_bytes() == 2 * kPage);
}

}  // namespace
}  // namespace wmd

namespace wmd {
namespace {

TEST_CASE("a creation that fails leaves no objects behind") {
  ShmName name;
  SegmentConfig config = config_for(name, kPage);
  config.max_size_bytes = 0;  // creating needs a maximum
  CHECK(Segment::open(config).error() == errc::invalid_config);
  CHECK(testing::file_size(name.ctl_path()) == 0);
  CHECK(::access(name.ctl_path().c_str(), F_OK) != 0);
  CHECK(::access(name.data_path().c_str(), F_OK) != 0);
}

TEST_CASE("an existing segment is attached without a maximum or page size") {
  ShmName name;
  { must_open(config_for(name, 2 * kPage)); }
  SegmentConfig config = config_for(name, 3 * kPage);
  config.max_size_bytes = 0;
  config.page_size_bytes = 0;
  auto segment = must_open(config);
  CHECK(segment->max_size_bytes() == kMax);
  CHECK(segment->page_size_bytes() == kPage);
  CHECK(segment->bytes().size() == 3 * kPage);
}

TEST_CASE("data extents: a fresh segment is one hole, written pages hold memory") {
  ShmName name;
  auto segment = must_open(config_for(name, 16 * kPage));
  DataExtent extent = segment->data_extent(0, 16 * kPage);
  CHECK_FALSE(extent.holds_memory);
  CHECK(extent.end_bytes >= 16 * kPage);

  segment->bytes()[5 * kPage + 100] = 1;  // backs (part of) page 5 only
  extent = segment->data_extent(0, 16 * kPage);
  CHECK_FALSE(extent.holds_memory);
  CHECK(extent.end_bytes == 5 * kPage);  // exact: where the data starts
  extent = segment->data_extent(5 * kPage, 16 * kPage);
  CHECK(extent.holds_memory);
  CHECK(extent.end_bytes == 6 * kPage);  // exact too: where the hole starts
  extent = segment->data_extent(6 * kPage, 16 * kPage);
  CHECK_FALSE(extent.holds_memory);
  CHECK(extent.end_bytes >= 16 * kPage);
}

TEST_CASE("data extents: reading a hole through the mapping backs it, so probes must come first") {
  ShmName name;
  auto segment = must_open(config_for(name, 4 * kPage));
  volatile std::uint8_t sink = segment->bytes()[2 * kPage];
  (void)sink;
  // The behaviour the engine's backing probe exists for: a read gave the page memory.
  CHECK(segment->data_extent(2 * kPage, 3 * kPage).holds_memory);
  CHECK_FALSE(segment->data_extent(0, 16 * kPage).holds_memory);
}

TEST_CASE("bulk writes land in the data object, visible through the mapping, never past it") {
  ShmName name;
  auto segment = must_open(config_for(name, 8 * kPage));
  std::vector<std::uint8_t> a(kPage, 1), b(kPage, 2), c(kPage, 3);
  // Pages 1 and 2 are consecutive (one pwritev), page 5 apart.
  const StorageWrite writes[] = {{1 * kPage, a}, {2 * kPage, b}, {5 * kPage, c}};
  REQUIRE(segment->write_data(writes).ok());
  CHECK(segment->bytes()[1 * kPage] == 1);
  CHECK(segment->bytes()[3 * kPage - 1] == 2);
  CHECK(segment->bytes()[5 * kPage + 17] == 3);
  CHECK(segment->bytes()[4 * kPage] == 0);
  const DataExtent extent = segment->data_extent(5 * kPage, 8 * kPage);
  CHECK(extent.holds_memory);  // backed by the write, not by a fault

  const StorageWrite past[] = {{7 * kPage, std::span(a.data(), 2 * kPage - kPage)}, {8 * kPage, a}};
  CHECK(segment->write_data(past).error() == make_error_code(errc::out_of_range));
  CHECK(segment->bytes()[7 * kPage] == 0);  // refused whole: nothing written
  CHECK(segment->mapped_size_bytes() == 8 * kPage);
}

}  // namespace
}  // namespace wmd
