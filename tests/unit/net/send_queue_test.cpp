#include "daemon/net/send_queue.hpp"

#include <doctest/doctest.h>

namespace wmd::net {
namespace {

QueuedFrame frame(std::size_t bytes, FrameClass frame_class = FrameClass::broadcast) {
  return QueuedFrame{
      std::make_shared<const std::vector<std::uint8_t>>(bytes, 0x5a), frame_class, {}};
}

QueuedFrame patch_frame(std::size_t bytes, std::vector<std::uint64_t> pages) {
  return QueuedFrame{std::make_shared<const std::vector<std::uint8_t>>(bytes, 0x5a),
                     FrameClass::broadcast,
                     {},
                     std::make_shared<const std::vector<std::uint64_t>>(std::move(pages))};
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

TEST_CASE("an overflow records the pages of the patches it dropped, or that it needs a round") {
  SendQueue queue(100);
  CHECK(queue.push(patch_frame(50, {1, 2})) == PushResult::queued);
  queue.start_write(1, 1000);  // being written: never dropped, not owed
  CHECK(queue.push(patch_frame(30, {7, 9})) == PushResult::queued);
  CHECK(queue.push(patch_frame(40, {2, 7})) == PushResult::overflowed);
  auto dropped = queue.take_dropped();
  CHECK(dropped.pages == std::vector<std::uint64_t>{2, 7, 9});  // sorted, unique
  CHECK_FALSE(dropped.unpaged);
  CHECK(queue.take_dropped().pages.empty());  // taken once

  CHECK(queue.push(frame(40)) == PushResult::queued);  // a growth: no pages
  CHECK(queue.push(patch_frame(30, {4})) == PushResult::overflowed);
  dropped = queue.take_dropped();
  CHECK(dropped.unpaged);
  CHECK(dropped.pages == std::vector<std::uint64_t>{4});
}

TEST_CASE("queued patches wholly within a catch-up round's pages are dropped, others kept") {
  SendQueue queue(1000);
  queue.push(patch_frame(10, {1}));
  queue.start_write(1, 1000);           // being written: kept
  queue.push(patch_frame(20, {2, 3}));  // within: dropped
  queue.push(patch_frame(30, {3, 8}));  // page 8 is not in the round: kept
  queue.push(frame(40));                // growth: kept
  queue.push(frame(50, FrameClass::control));
  CHECK(queue.drop_patches_within({1, 2, 3, 5}) == 1);
  CHECK(queue.bytes() == 10 + 30 + 40 + 50);
  queue.finish_write();
  std::vector<std::size_t> sizes;
  for (const auto* item : queue.start_write(10, 1000)) sizes.push_back(item->frame->size());
  CHECK(sizes == std::vector<std::size_t>{30, 40, 50});
}

}  // namespace wmd::net
