#include "daemon/net/send_queue.hpp"

#include <doctest/doctest.h>

namespace wmd::net {
namespace {

QueuedFrame frame(std::size_t bytes, FrameClass frame_class = FrameClass::broadcast) {
  return QueuedFrame{
      std::make_shared<const std::vector<std::uint8_t>>(bytes, 0x5a), frame_class, {}};
}

}  // namespace

TEST_CASE("frames within the limit are queued in order") {
  SendQueue queue(100);
  CHECK(queue.push(frame(40)) == PushResult::queued);
  CHECK(queue.push(frame(60)) == PushResult::queued);
  CHECK(queue.bytes() == 100);
  const auto batch = queue.start_write(10, 1000);
  CHECK(batch.size() == 2);
  CHECK(queue.finish_write().size() == 2);
  CHECK(queue.bytes() == 0);
  CHECK(queue.empty());
}

TEST_CASE("an empty queue accepts one frame larger than the limit") {
  SendQueue queue(100);
  CHECK(queue.push(frame(500)) == PushResult::queued);
  CHECK(queue.bytes() == 500);
}

TEST_CASE("a broadcast past the limit drops the pending broadcasts and reports overflow") {
  SendQueue queue(100);
  CHECK(queue.push(frame(50)) == PushResult::queued);
  CHECK(queue.push(frame(40)) == PushResult::queued);
  CHECK(queue.push(frame(20)) == PushResult::overflowed);
  CHECK(queue.bytes() == 0);
  CHECK(queue.dropped_frames() == 3);
  CHECK(queue.dropped_bytes() == 110);
  CHECK(queue.overflows() == 1);
  // Afterwards it accepts patches again.
  CHECK(queue.push(frame(30)) == PushResult::queued);
}

TEST_CASE("overflow keeps the frames being written and every control frame") {
  SendQueue queue(100);
  CHECK(queue.push(frame(30)) == PushResult::queued);  // will be in flight
  CHECK(queue.push(frame(10, FrameClass::control)) == PushResult::queued);
  CHECK(queue.push(frame(40)) == PushResult::queued);
  const auto batch = queue.start_write(1, 1000);
  REQUIRE(batch.size() == 1);
  CHECK(queue.push(frame(50)) == PushResult::overflowed);
  CHECK(queue.bytes() == 40);  // in-flight 30 + control 10
  const auto done = queue.finish_write();
  REQUIRE(done.size() == 1);
  CHECK(done[0].frame->size() == 30);
  const auto next = queue.start_write(10, 1000);
  REQUIRE(next.size() == 1);
  CHECK(next[0]->frame_class == FrameClass::control);
}

TEST_CASE("control frames are never refused, even past the limit") {
  SendQueue queue(100);
  CHECK(queue.push(frame(90)) == PushResult::queued);
  CHECK(queue.push(frame(90, FrameClass::control)) == PushResult::queued);
  CHECK(queue.bytes() == 180);
}

TEST_CASE("a write batch stops at its byte budget but always takes one frame") {
  SendQueue queue(1000);
  for (int i = 0; i < 5; ++i) CHECK(queue.push(frame(100)) == PushResult::queued);
  CHECK(queue.start_write(10, 250).size() == 2);
  queue.finish_write();
  CHECK(queue.start_write(10, 10).size() == 1);
}

TEST_CASE("clear_pending keeps only the frames being written") {
  SendQueue queue(1000);
  for (int i = 0; i < 3; ++i) CHECK(queue.push(frame(100)) == PushResult::queued);
  queue.start_write(1, 1000);
  queue.clear_pending();
  CHECK(queue.bytes() == 100);
  CHECK(queue.writing());
  CHECK_FALSE(queue.has_pending());
}

}  // namespace wmd::net
