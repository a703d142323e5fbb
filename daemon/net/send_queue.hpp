// SendQueue: the bounded queue of encoded frames waiting to be written to one peer, and its
// overflow policy. Pure: no sockets.
//
// Policy: broadcast frames (patches, growth) count against the byte limit; when one would push
// the queue past it, every broadcast frame not yet being written is dropped (and the new one
// with it) and push() reports the overflow, so that the caller resyncs the peer instead of
// stalling the others: take_dropped() says which pages the dropped patches touched (their
// current states make up for them, each page once) or that a frame without pages (growth)
// went too, which needs a whole catch-up round. Control frames
// (handshake, catch-up, heartbeat, error) are never dropped: the catch-up sender is flow
// controlled (on_sent), so they stay bounded. An empty queue always accepts one frame, however
// large.
//
// Thread-safety: not thread-safe; used by the network thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "proto/message.hpp"

namespace wmd::net {

using Frame = std::shared_ptr<const std::vector<std::uint8_t>>;

// The one place a message becomes a frame: the daemon encodes on its network thread only (the
// engine thread hands messages over).
Frame encode_frame(const proto::Message& message);

enum class FrameClass { broadcast, control };

// Pages a broadcast patch touches, sorted (shared by the peers' queues).
using FramePages = std::shared_ptr<const std::vector<std::uint64_t>>;

struct QueuedFrame {
  QueuedFrame(Frame frame_, FrameClass class_, std::function<void()> on_sent_ = {},
              FramePages pages_ = {})
      : frame(std::move(frame_)),
        frame_class(class_),
        on_sent(std::move(on_sent_)),
        pages(std::move(pages_)) {}

  Frame frame;
  FrameClass frame_class = FrameClass::control;
  std::function<void()> on_sent;  // called once the frame has been written, if ever
  FramePages pages;               // broadcast patches: the pages they touch; else null
};

// What overflows dropped since the last take_dropped().
struct DroppedBroadcasts {
  std::vector<std::uint64_t> pages;  // touched by dropped patches; sorted, unique
  bool unpaged = false;              // a broadcast without pages (growth) was dropped too
};

enum class PushResult { queued, overflowed };

class SendQueue {
 public:
  explicit SendQueue(std::uint64_t limit_bytes) : limit_bytes_(limit_bytes) {}

  // REQUIRES: item.frame is non-null and non-empty.
  PushResult push(QueuedFrame item);

  bool has_pending() const noexcept { return queue_.size() > in_flight_; }
  bool writing() const noexcept { return in_flight_ > 0; }
  bool empty() const noexcept { return queue_.empty(); }
  // Marks up to max_frames front frames (at least one, then while the total stays within
  // max_bytes) as being written, and returns them; they stay valid until finish_write().
  // REQUIRES: has_pending() && !writing()
  std::vector<const QueuedFrame*> start_write(std::size_t max_frames, std::uint64_t max_bytes);
  // Removes the frames being written and returns them (so the caller runs on_sent).
  // REQUIRES: writing()
  std::vector<QueuedFrame> finish_write();
  // Drops everything not being written (the connection is closing).
  void clear_pending();
  // Drops the pending broadcast patches whose pages all lie in `pages` (sorted): a catch-up
  // round will send those pages' states, which carry what the patches carry. Returns the frames
  // dropped.
  std::size_t drop_patches_within(const std::vector<std::uint64_t>& pages);
  // What the overflows so far dropped, and the record starts over.
  DroppedBroadcasts take_dropped();

  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t limit_bytes() const noexcept { return limit_bytes_; }
  std::uint64_t dropped_frames() const noexcept { return dropped_frames_; }
  std::uint64_t dropped_bytes() const noexcept { return dropped_bytes_; }
  std::uint64_t overflows() const noexcept { return overflows_; }

 private:
  void drop_pending_broadcasts();
  void record_dropped(const QueuedFrame& item);

  std::uint64_t limit_bytes_;
  std::deque<QueuedFrame> queue_;
  std::size_t in_flight_ = 0;  // front frames being written
  std::uint64_t bytes_ = 0;
  std::uint64_t dropped_frames_ = 0;
  std::uint64_t dropped_bytes_ = 0;
  std::uint64_t overflows_ = 0;
  DroppedBroadcasts dropped_;  // pages unsorted until take_dropped()
};

}  // namespace wmd::net
