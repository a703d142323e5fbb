#include "daemon/net/send_queue.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

#include "proto/codec.hpp"

namespace wmd::net {

Frame encode_frame(const proto::Message& message) {
  return std::make_shared<const std::vector<std::uint8_t>>(proto::encode(message));
}

PushResult SendQueue::push(QueuedFrame item) {
  assert(item.frame && !item.frame->empty());
  const std::uint64_t size = item.frame->size();
  if (item.frame_class == FrameClass::broadcast && bytes_ > 0 && bytes_ + size > limit_bytes_) {
    drop_pending_broadcasts();
    ++overflows_;
    ++dropped_frames_;
    dropped_bytes_ += size;
    record_dropped(item);
    return PushResult::overflowed;
  }
  bytes_ += size;
  queue_.push_back(std::move(item));
  return PushResult::queued;
}

std::vector<const QueuedFrame*> SendQueue::start_write(std::size_t max_frames,
                                                       std::uint64_t max_bytes) {
  assert(has_pending() && !writing());
  std::vector<const QueuedFrame*> batch;
  std::uint64_t batch_bytes = 0;
  for (const auto& item : queue_) {
    if (!batch.empty() &&
        (batch.size() >= max_frames || batch_bytes + item.frame->size() > max_bytes)) {
      break;
    }
    batch.push_back(&item);
    batch_bytes += item.frame->size();
  }
  in_flight_ = batch.size();
  return batch;
}

std::vector<QueuedFrame> SendQueue::finish_write() {
  assert(writing());
  std::vector<QueuedFrame> done;
  done.reserve(in_flight_);
  for (; in_flight_ > 0; --in_flight_) {
    bytes_ -= queue_.front().frame->size();
    done.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return done;
}

void SendQueue::clear_pending() {
  while (queue_.size() > in_flight_) {
    bytes_ -= queue_.back().frame->size();
    queue_.pop_back();
  }
}

void SendQueue::drop_pending_broadcasts() {
  std::deque<QueuedFrame> kept;
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    auto& item = queue_[i];
    const bool being_written = i < in_flight_;
    if (being_written || item.frame_class == FrameClass::control) {
      kept.push_back(std::move(item));
    } else {
      ++dropped_frames_;
      dropped_bytes_ += item.frame->size();
      bytes_ -= item.frame->size();
      record_dropped(item);
    }
  }
  queue_ = std::move(kept);
}

std::size_t SendQueue::drop_patches_within(const std::vector<std::uint64_t>& pages) {
  auto within = [&pages](const QueuedFrame& item) {
    return item.frame_class == FrameClass::broadcast && item.pages && !item.pages->empty() &&
           std::all_of(item.pages->begin(), item.pages->end(), [&pages](std::uint64_t page) {
             return std::binary_search(pages.begin(), pages.end(), page);
           });
  };
  std::deque<QueuedFrame> kept;
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    if (i >= in_flight_ && within(queue_[i])) {
      bytes_ -= queue_[i].frame->size();
      ++dropped;
    } else {
      kept.push_back(std::move(queue_[i]));
    }
  }
  queue_ = std::move(kept);
  return dropped;
}

void SendQueue::record_dropped(const QueuedFrame& item) {
  if (!item.pages) {
    dropped_.unpaged = true;
    return;
  }
  dropped_.pages.insert(dropped_.pages.end(), item.pages->begin(), item.pages->end());
}

DroppedBroadcasts SendQueue::take_dropped() {
  DroppedBroadcasts taken = std::exchange(dropped_, {});
  std::sort(taken.pages.begin(), taken.pages.end());
  taken.pages.erase(std::unique(taken.pages.begin(), taken.pages.end()), taken.pages.end());
  return taken;
}

}  // namespace wmd::net
