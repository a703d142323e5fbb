// Segment status block (seqlock) and writer registry.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "shm/status_block.hpp"
#include "shm/writer_registry.hpp"
#include "daemon/segment/segment.hpp"
#include "tests/unit/segment/shm_fixture.hpp"

namespace wmd {
namespace {

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

SegmentStatus sample_status(std::uint64_t n) {
  SegmentStatus status;
  status.lamport = n;
  status.local_seq = n;
  status.last_sync_unix_ms = n;
  status.errors = n;
  status.last_error = "error " + std::to_string(n);
  status.tracking_mode = "hash";
  for (int i = 0; i < 3; ++i) {
    SegmentPeerStatus peer;
    peer.peer_id = "peer-" + std::to_string(i);
    peer.connected = i != 1;
    peer.rtt_us = n;
    peer.queue_bytes = n;
    peer.patches_sent = n;
    peer.patches_received = n;
    status.peers.push_back(peer);
  }
  return status;
}

TEST_CASE("published status is read back from another mapping") {
  ShmName name;
  auto segment = make_segment(name);
  segment->publish_status(sample_status(17));
  CtlView ctl(name.ctl());
  wmd_ctl_status copy{};
  REQUIRE(core::read_status(&ctl->status, &copy));
  CHECK(copy.seq % 2 == 0);
  CHECK(copy.lamport == 17);
  CHECK(copy.errors == 17);
  CHECK(std::string(copy.last_error) == "error 17");
  CHECK(std::string(copy.tracking_mode) == "hash");
  REQUIRE(copy.peer_count == 3);
  CHECK(std::string(copy.peers[2].peer_id) == "peer-2");
  CHECK(copy.peers[0].connected == 1);
  CHECK(copy.peers[1].connected == 0);
}

TEST_CASE("long texts and too many peers are truncated, never overflowing the block") {
  ShmName name;
  auto segment = make_segment(name);
  SegmentStatus status = sample_status(1);
  status.last_error.assign(1000, 'e');
  status.tracking_mode = "a-very-long-tracking-mode-name";
  status.peers.resize(WMD_MAX_PEERS + 5);
  status.peers[0].peer_id.assign(500, 'p');
  segment->publish_status(status);
  CtlView ctl(name.ctl());
  wmd_ctl_status copy{};
  REQUIRE(core::read_status(&ctl->status, &copy));
  CHECK(std::strlen(copy.last_error) == WMD_LAST_ERROR_BYTES - 1);
  CHECK(std::strlen(copy.tracking_mode) == WMD_TRACKING_MODE_BYTES - 1);
  CHECK(std::strlen(copy.peers[0].peer_id) == WMD_PEER_ID_BYTES - 1);
  CHECK(copy.peer_count == WMD_MAX_PEERS);
}

TEST_CASE("a reader never sees a half-published status") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t n = 1; !stop.load(); ++n) segment->publish_status(sample_status(n));
  });
  int torn = 0;
  int read = 0;
  for (int i = 0; i < 20000; ++i) {
    wmd_ctl_status copy{};
    if (!core::read_status(&ctl->status, &copy)) continue;
    ++read;
    const std::uint64_t n = copy.lamport;
    if (copy.errors != n || copy.peers[2].queue_bytes != n ||
        (n != 0 && std::string(copy.last_error) != "error " + std::to_string(n))) {
      ++torn;
    }
  }
  stop.store(true);
  writer.join();
  CHECK(read > 0);
  CHECK(torn == 0);
}

wmd_ctl_writer writer_record(std::int32_t pid, std::uint64_t address) {
  wmd_ctl_writer record{};
  record.pid = pid;
  record.start_time_ticks = core::process_start_time_ticks(pid);
  record.address = address;
  record.length_bytes = 8192;
  return record;
}

TEST_CASE("a registered writer is listed with its mapping until it unregisters") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  wmd_ctl_writer record = writer_record(::getpid(), 0x10000);
  record.flags = WMD_WRITER_KERNEL_TRACKING;
  const int slot = core::register_writer(ctl.get(), record);
  REQUIRE(slot >= 0);
  auto writers = segment->writers();
  REQUIRE(writers.size() == 1);
  CHECK(writers[0].slot == static_cast<std::uint32_t>(slot));
  CHECK(writers[0].pid == ::getpid());
  CHECK(writers[0].start_time_ticks == core::process_start_time_ticks(::getpid()));
  CHECK(writers[0].address == 0x10000);
  CHECK(writers[0].length_bytes == 8192);
  CHECK(writers[0].kernel_tracking);
  core::unregister_writer(ctl.get(), slot, ::getpid());
  CHECK(segment->writers().empty());
}

TEST_CASE("the start time in /proc distinguishes a live process from a reused pid") {
  const std::uint64_t start = core::process_start_time_ticks(::getpid());
  CHECK(start != 0);
  CHECK(core::process_alive(::getpid(), start));
  CHECK(core::process_alive(::getpid(), 0));
  CHECK_FALSE(core::process_alive(::getpid(), start + 1));
  CHECK_FALSE(core::process_alive(0, 0));
}

TEST_CASE("slots of dead writers are left out and reclaimed when the registry is full") {
  ShmName name;
  auto segment = make_segment(name);
  CtlView ctl(name.ctl());
  for (int i = 0; i < WMD_MAX_WRITERS - 1; ++i) {
    REQUIRE(core::register_writer(ctl.get(), writer_record(::getpid(), 0x2000)) == i);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  // The last free slot goes to the child, which then exits and is reaped: a dead writer.
  const int dead_slot = core::register_writer(ctl.get(), writer_record(child, 0x1000));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(dead_slot == WMD_MAX_WRITERS - 1);
  CHECK(segment->writers().size() == WMD_MAX_WRITERS - 1);

  CHECK(core::register_writer(ctl.get(), writer_record(::getpid(), 0x3000)) == dead_slot);
  CHECK(segment->writers().size() == WMD_MAX_WRITERS);
  CHECK(core::register_writer(ctl.get(), writer_record(::getpid(), 0x4000)) == -1);
}

}  // namespace
}  // namespace wmd
