// SendQueue: the bounded queue of encoded frames waiting to be written to one peer, and its
// overflow policy. Pure: no sockets.
//
// Policy: broadcast frames (patches, growth) count against the byte limit; when one would push
// the queue past it, every broadcast frame not yet being written is dropped (and the new one
// with it) and push() reports the overflow, so that the caller resyncs the peer with a
// catch-up round (digests with reply_requested) instead of stalling the others. Control frames
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
#include <vector>

#include "proto/message.hpp"

namespace wmd::net {

using Frame = std::shared_ptr<const std::vector<std::uint8_t>>;

// The one place a message becomes a frame: the daemon encodes on its network thread only (the
// engine thread hands messages over).
Frame encode_frame(const proto::Message& message);

enum class FrameClass { broadcast, control };

struct QueuedFrame {
  Frame frame;
  FrameClass frame_class = FrameClass::control;
  std::function<void()> on_sent;  // called once the frame has been written, if ever
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

  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t limit_bytes() const noexcept { return limit_bytes_; }
  std::uint64_t dropped_frames() const noexcept { return dropped_frames_; }
  std::uint64_t dropped_bytes() const noexcept { return dropped_bytes_; }
  std::uint64_t overflows() const noexcept { return overflows_; }

 private:
  void drop_pending_broadcasts();

  std::uint64_t limit_bytes_;
  std::deque<QueuedFrame> queue_;
  std::size_t in_flight_ = 0;  // front frames being written
  std::uint64_t bytes_ = 0;
  std::uint64_t dropped_frames_ = 0;
  std::uint64_t dropped_bytes_ = 0;
  std::uint64_t overflows_ = 0;
};

}  // namespace wmd::net
