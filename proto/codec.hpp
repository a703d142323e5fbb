// Encoder and decoder for wmd frames. Pure: no sockets, no clocks, no logging.
//
// Frame = u32 body_length (little-endian) | u8 message type | body (body_length bytes).
// The decoder checks every length, count, offset and index against Limits before it reads or
// allocates, and never trusts a value from the wire.
//
// Thread-safety: free functions are reentrant; a FrameReader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/result.hpp"
#include "proto/message.hpp"

namespace wmd::proto {

inline constexpr std::size_t kFrameHeaderBytes = 5;

struct Limits {
  std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes;  // largest body accepted
  // Page size agreed in the handshake; page states must be exactly this long. 0 before the
  // handshake: page_states frames are then malformed.
  std::uint32_t page_size_bytes = 0;
  // Largest segment size accepted: run offsets + lengths, page indices and sizes beyond it are
  // refused (errc::beyond_max_size).
  std::uint64_t max_size_bytes = 0;
};

struct FrameHeader {
  std::uint32_t body_bytes = 0;
  MessageType type = MessageType::hello;
};

// Appends one whole frame for `message` to `out`.
void encode(const Message& message, std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> encode(const Message& message);

// Errors: frame_too_large, unknown_message_type.
Result<FrameHeader> decode_header(std::span<const std::uint8_t, kFrameHeaderBytes> header,
                                  const Limits& limits);

// Decodes one body. The body must be consumed exactly. Errors: truncated, malformed,
// beyond_max_size, invalid_peer_id, unknown_message_type, frame_too_large.
Result<Message> decode_body(MessageType type, std::span<const std::uint8_t> body,
                            const Limits& limits);

// Incremental decoder over a byte stream, for callers that receive arbitrary chunks (and for
// the fuzzer). After an error it stays failed.
class FrameReader {
 public:
  explicit FrameReader(Limits limits) : limits_(limits) {}
  void set_limits(const Limits& limits) { limits_ = limits; }
  void feed(std::span<const std::uint8_t> bytes);
  // The next complete message, std::nullopt when more bytes are needed, or the error.
  Result<std::optional<Message>> next();
  std::size_t buffered_bytes() const noexcept { return buffer_.size() - consumed_; }
  // Drops every buffered byte and its memory; nothing more is decoded (as after an error).
  void release();

 private:
  Limits limits_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  std::error_code failed_;
};

}  // namespace wmd::proto
