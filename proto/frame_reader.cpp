// FrameReader: splits a byte stream into frames and decodes them (see codec.hpp).
#include <algorithm>

#include "proto/codec.hpp"

namespace wmd::proto {
namespace {

// Consumed bytes are dropped from the front of the buffer once they are at least this many
// and at least half the buffer, so compaction costs O(1) amortised per byte.
constexpr std::size_t kCompactMinBytes = 4096;
// An empty buffer keeps at most this much memory: one large frame does not pin its size for
// the connection's life (a mesh of idle connections would otherwise hold max-frame each).
constexpr std::size_t kKeptCapacityBytes = 1 << 20;

void clear_buffer(std::vector<std::uint8_t>& buffer) {
  buffer.clear();
  if (buffer.capacity() > kKeptCapacityBytes) buffer.shrink_to_fit();
}

}  // namespace

void FrameReader::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;  // nothing after an error is ever decoded
  if (consumed_ == buffer_.size()) {
    clear_buffer(buffer_);
    consumed_ = 0;
  } else if (consumed_ >= kCompactMinBytes && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FrameReader::release() {
  buffer_.clear();
  buffer_.shrink_to_fit();
  consumed_ = 0;
  if (!failed_) failed_ = make_error_code(errc::frame_too_large);
}

Result<std::optional<Message>> FrameReader::next() {
  if (failed_) return failed_;
  const std::span<const std::uint8_t> pending(buffer_.data() + consumed_,
                                              buffer_.size() - consumed_);
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
  if (consumed_ == buffer_.size()) {
    clear_buffer(buffer_);
    consumed_ = 0;
  }
  return std::optional<Message>(std::move(message).value());
}

}  // namespace wmd::proto
