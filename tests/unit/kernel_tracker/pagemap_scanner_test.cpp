// PagemapScanner against the real kernel: a forked writer registered with userfaultfd WP_ASYNC,
// the test process scanning its /proc/PID/pagemap as the daemon does.
#include "daemon/tracker/kernel/pagemap_scanner.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

#include "daemon/tracker/kernel/kernel_probe.hpp"
#include "tests/unit/kernel_tracker/child_writer.hpp"

namespace wmd::kernel {
namespace {

using testing::ChildWriter;
using testing::SharedMemory;

const KernelProbe& probe() {
  static const KernelProbe result = probe_kernel_tracking();
  return result;
}

#define SKIP_UNLESS_KERNEL_TRACKING()                                            \
  do {                                                                           \
    if (!probe().verified_in_process) {                                          \
      MESSAGE("skipped: kernel dirty tracking unsupported: " << probe().reason); \
      return;                                                                    \
    }                                                                            \
  } while (0)

std::uint64_t count_pages(const std::vector<AddressRange>& ranges) {
  std::uint64_t pages = 0;
  for (const AddressRange& range : ranges)
    pages += (range.end - range.start) / kernel_page_size_bytes();
  return pages;
}

// Kernel page indices (relative to base) covered by the ranges.
std::set<std::uint64_t> page_set(const std::vector<AddressRange>& ranges, std::uint64_t base) {
  std::set<std::uint64_t> pages;
  const std::uint64_t page = kernel_page_size_bytes();
  for (const AddressRange& range : ranges) {
    for (std::uint64_t a = range.start; a < range.end; a += page) pages.insert((a - base) / page);
  }
  return pages;
}

TEST_CASE("the probe runs the whole kernel tracking sequence and says why when it cannot") {
  MESSAGE("kernel " << probe().kernel_release << ": supported=" << probe().supported << " ("
                    << probe().reason << ")");
  CHECK_FALSE(probe().reason.empty());
}

TEST_CASE(
    "a registered writer's written pages are reported exactly, once, then again after "
    "new writes") {
  SKIP_UNLESS_KERNEL_TRACKING();
  const std::uint64_t page = kernel_page_size_bytes();
  const std::uint64_t pages_total = 1024;
  SharedMemory memory(pages_total * page);
  REQUIRE(memory.ok());
  ChildWriter writer(memory, ChildWriter::Registration::uffd_wp_async);
  REQUIRE(writer.started());
  REQUIRE(writer.kernel_tracking());

  Result<PagemapScanner> scanner = PagemapScanner::open(writer.pid());
  REQUIRE(scanner.ok());
  const std::uint64_t base = writer.address();
  const std::uint64_t end = base + memory.length_bytes();
  std::vector<AddressRange> written;
  REQUIRE(scanner->scan_written(base, end, written).ok());
  CHECK(written.empty());  // registration protected everything the child had touched

  const std::uint32_t seed = 20261124;
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  std::set<std::uint64_t> expected;
  while (expected.size() < 37) expected.insert(rng() % pages_total);
  std::vector<std::uint64_t> offsets;
  for (const std::uint64_t p : expected) offsets.push_back(p * page + rng() % page);
  writer.increment(offsets);

  REQUIRE(scanner->scan_written(base, end, written).ok());
  CHECK(count_pages(written) == expected.size());
  CHECK(page_set(written, base) == expected);

  SUBCASE("a second scan finds nothing: the first re-protected the pages") {
    REQUIRE(scanner->scan_written(base, end, written).ok());
    CHECK(written.empty());
  }
  SUBCASE("writing again makes the pages reported again") {
    const std::vector<std::uint64_t> again{3 * page, 3 * page + 17, 900 * page};
    writer.increment(again);
    REQUIRE(scanner->scan_written(base, end, written).ok());
    CHECK(page_set(written, base) == std::set<std::uint64_t>{3, 900});
  }
  SUBCASE("the daemon's own writes through its mapping are not the writer's") {
    memory.data()[5 * page] ^= 0xff;
    memory.data()[6 * page + 9] ^= 0xff;
    REQUIRE(scanner->scan_written(base, end, written).ok());
    CHECK(written.empty());
  }
}

TEST_CASE("a scan with more written regions than one ioctl result holds returns them all") {
  SKIP_UNLESS_KERNEL_TRACKING();
  const std::uint64_t page = kernel_page_size_bytes();
  const std::uint64_t pages_total = 6000;  // 3000 separate regions, one call returns 512
  SharedMemory memory(pages_total * page);
  REQUIRE(memory.ok());
  ChildWriter writer(memory, ChildWriter::Registration::uffd_wp_async);
  REQUIRE(writer.kernel_tracking());
  Result<PagemapScanner> scanner = PagemapScanner::open(writer.pid());
  REQUIRE(scanner.ok());
  const std::uint64_t base = writer.address();
  std::vector<AddressRange> written;
  REQUIRE(scanner->scan_written(base, base + memory.length_bytes(), written).ok());

  std::vector<std::uint64_t> offsets;
  for (std::uint64_t p = 0; p < pages_total; p += 2) offsets.push_back(p * page);
  writer.increment(offsets);
  REQUIRE(scanner->scan_written(base, base + memory.length_bytes(), written).ok());
  CHECK(written.size() == pages_total / 2);
  CHECK(count_pages(written) == pages_total / 2);
  // Adjacent pages written come back as one range.
  writer.increment(std::vector<std::uint64_t>{10 * page, 11 * page, 12 * page});
  REQUIRE(scanner->scan_written(base, base + memory.length_bytes(), written).ok());
  REQUIRE(written.size() == 1);
  CHECK(written[0] == AddressRange{base + 10 * page, base + 13 * page});
}

TEST_CASE("a writer that did not register with userfaultfd is refused, not silently clean") {
  SKIP_UNLESS_KERNEL_TRACKING();
  SharedMemory memory(64 * kernel_page_size_bytes());
  REQUIRE(memory.ok());
  ChildWriter writer(memory, ChildWriter::Registration::none);
  REQUIRE(writer.started());
  Result<PagemapScanner> scanner = PagemapScanner::open(writer.pid());
  REQUIRE(scanner.ok());
  std::vector<AddressRange> written;
  const Status status =
      scanner->scan_written(writer.address(), writer.address() + memory.length_bytes(), written);
  CHECK(status.error() == kernel_errc::not_registered);
  CHECK(status.error().detail().find("PAGEMAP_SCAN(/proc/") == 0);
}

TEST_CASE("a writer that exited is reported gone by the scanner and by open") {
  SKIP_UNLESS_KERNEL_TRACKING();
  SharedMemory memory(64 * kernel_page_size_bytes());
  REQUIRE(memory.ok());
  auto writer = std::make_unique<ChildWriter>(memory, ChildWriter::Registration::uffd_wp_async);
  REQUIRE(writer->kernel_tracking());
  const pid_t pid = writer->pid();
  const std::uint64_t base = writer->address();
  Result<PagemapScanner> scanner = PagemapScanner::open(pid);
  REQUIRE(scanner.ok());
  writer->exit_and_reap();

  std::vector<AddressRange> written;
  const Status status = scanner->scan_written(base, base + memory.length_bytes(), written);
  CHECK(status.error().detail().find("No such process") != std::string::npos);
  CHECK(status.error() == kernel_errc::writer_gone);
  CHECK(written.empty());
  CHECK(live_process_start_time_ticks(pid) == 0);

  const Result<PagemapScanner> reopened = PagemapScanner::open(pid);
  CHECK(reopened.error() == kernel_errc::writer_gone);
}

TEST_CASE("a pid with another start time is not the registered writer") {
  const std::int32_t self = static_cast<std::int32_t>(::getpid());
  const std::uint64_t start = live_process_start_time_ticks(self);
  REQUIRE(start != 0);
  CHECK(same_live_process(self, start));
  CHECK_FALSE(same_live_process(self, start + 1));
  CHECK_FALSE(same_live_process(self, 0));
  CHECK_FALSE(same_live_process(0, start));
}

TEST_CASE("kernel ranges map to the wmd pages they overlap") {
  const std::uint64_t base = 0x7f0000000000;
  const std::uint32_t wmd_page = 16384;  // four 4 KiB kernel pages
  std::vector<std::uint64_t> pages;
  const std::vector<AddressRange> ranges{
      {base + 4096, base + 8192},                   // inside wmd page 0
      {base + 12288, base + 20480},                 // straddles pages 0 and 1
      {base + 5 * 16384, base + 5 * 16384 + 4096},  // first kernel page of wmd page 5
      {base + 6 * 16384 - 4096, base + 8 * 16384},  // last of 5, all of 6 and 7
  };
  append_wmd_pages(ranges, base, wmd_page, pages);
  CHECK(pages == std::vector<std::uint64_t>{0, 1, 5, 6, 7});

  SUBCASE("ranges below the base are ignored") {
    pages.clear();
    append_wmd_pages(std::vector<AddressRange>{{base - 8192, base - 4096}}, base, wmd_page, pages);
    CHECK(pages.empty());
  }
  SUBCASE("wmd pages equal to kernel pages map one to one") {
    pages.clear();
    append_wmd_pages(std::vector<AddressRange>{{base + 8192, base + 16384}}, base, 4096, pages);
    CHECK(pages == std::vector<std::uint64_t>{2, 3});
  }
}

}  // namespace
}  // namespace wmd::kernel
