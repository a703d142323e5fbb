// FrameReader: splits a byte stream into frames and decodes them (see codec.hpp).
#include <algorithm>
#include <cstring>

#include "proto/codec.hpp"

namespace wmd::proto {
namespace {

// Consumed bytes are dropped from the front of the buffer once they are at least this many
// and at least half the buffer, so compaction costs O(1) amortised per byte.
constexpr std::size_t kCompactMinBytes = 4096;
// An empty buffer keeps at most this much memory: one large frame does not pin its size for
// the connection's life (a mesh of idle connections would otherwise hold max-frame each).
constexpr std::size_t kKeptCapacityBytes = 1 << 20;

}  // namespace

std::span<std::uint8_t> FrameReader::prepare(std::size_t bytes) {
  if (consumed_ == filled_) {
    consumed_ = filled_ = 0;
    if (buffer_.capacity() > kKeptCapacityBytes) {
      buffer_.clear();
      buffer_.shrink_to_fit();
    }
  } else if (consumed_ >= kCompactMinBytes && consumed_ * 2 >= filled_) {
    std::memmove(buffer_.data(), buffer_.data() + consumed_, filled_ - consumed_);
    filled_ -= consumed_;
    consumed_ = 0;
  }
  // Grows geometrically (vector::resize), and zero-fills only what it grows: after the first
  // reads the room is reused as it is.
  if (buffer_.size() - filled_ < bytes) buffer_.resize(filled_ + bytes);
  prepared_ = bytes;
  return {buffer_.data() + filled_, bytes};
}

void FrameReader::commit(std::size_t bytes) {
  bytes = std::min(bytes, prepared_);
  prepared_ = 0;
  if (failed_) return;  // nothing after an error is ever decoded
  filled_ += bytes;
}

void FrameReader::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  const std::span<std::uint8_t> room = prepare(bytes.size());
  if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void FrameReader::release() {
  buffer_.clear();
  buffer_.shrink_to_fit();
  consumed_ = filled_ = prepared_ = 0;
  if (!failed_) failed_ = make_error_code(errc::frame_too_large);
}

Result<std::optional<Message>> FrameReader::next() {
  if (failed_) return failed_;
  const std::span<const std::uint8_t> pending(buffer_.data() + consumed_, filled_ - consumed_);
  if (pending.size() < kFrameHeaderBytes) return std::optional<Message>{};

  Result<FrameHeader> header = decode_header(pending.first<kFrameHeaderBytes>(), limits_);
  if (!header) {
    failed_ = header.error().code();
    return failed_;
  }
  const std::size_t frame_bytes = kFrameHeaderBytes + header->body_bytes;
  if (pending.size() < frame_bytes) return std::optional<Message>{};

  Result<Message> message =
      decode_body(header->type, pending.subspan(kFrameHeaderBytes, header->body_bytes), limits_);
  if (!message) {
    failed_ = message.error().code();
    return failed_;
  }
  consumed_ += frame_bytes;
  if (consumed_ == filled_) consumed_ = filled_ = 0;  // the memory stays, for prepare()
  return std::optional<Message>(std::move(message).value());
}

}  // namespace wmd::proto
