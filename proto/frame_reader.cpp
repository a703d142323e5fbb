// FrameReader: splits a byte stream into frames and decodes them (see codec.hpp).
#include <algorithm>

#include "proto/codec.hpp"

namespace wmd::proto {
namespace {

// Consumed bytes are dropped from the front of the buffer once they are at least this many
// and at least half the buffer, so compaction costs O(1) amortised per byte.
constexpr std::size_t kCompactMinBytes = 4096;

}  // namespace

void FrameReader::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;  // nothing after an error is ever decoded
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ >= kCompactMinBytes && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Message>> FrameReader::next() {
  if (failed_) return failed_;
  const std::span<const std::uint8_t> pending(buffer_.data() + consumed_,
                                              buffer_.size() - consumed_);
  if (pending.size() < kFrameHeaderBytes) return std::optional<Message>{};

  Result<FrameHeader> header = decode_header(pending.first<kFrameHeaderBytes>(), limits_);
  if (!header) {
    failed_ = header.error();
    return failed_;
  }
  const std::size_t frame_bytes = kFrameHeaderBytes + header->body_bytes;
  if (pending.size() < frame_bytes) return std::optional<Message>{};

  Result<Message> message =
      decode_body(header->type, pending.subspan(kFrameHeaderBytes, header->body_bytes), limits_);
  if (!message) {
    failed_ = message.error();
    return failed_;
  }
  consumed_ += frame_bytes;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<Message>(std::move(message).value());
}

}  // namespace wmd::proto
