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
  // Page states are decoded in the table form (PageStates::stamped) instead of one by one.
  bool stamped_page_states = false;
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
  // Appends a copy of bytes (prepare(), copy, commit()).
  void feed(std::span<const std::uint8_t> bytes);
  // Receiving in place, without a copy from a socket buffer into this one: room for `bytes`
  // more at the end of the buffer, to be filled by the caller and then commit()ted. The span
  // stays valid until the next call of any member other than buffered_bytes(), so a read into
  // it must complete before next(), feed(), prepare() or release() is called.
  std::span<std::uint8_t> prepare(std::size_t bytes);
  // The first `bytes` (at most what prepare() gave) of the prepared room now hold data.
  void commit(std::size_t bytes);
  // The next complete message, std::nullopt when more bytes are needed, or the error.
  Result<std::optional<Message>> next();
  std::size_t buffered_bytes() const noexcept { return filled_ - consumed_; }
  // Drops every buffered byte and its memory; nothing more is decoded (as after an error).
  void release();

 private:
  Limits limits_;
  std::vector<std::uint8_t> buffer_;  // [consumed_, filled_) is pending; the rest is room
  std::size_t consumed_ = 0;
  std::size_t filled_ = 0;
  std::size_t prepared_ = 0;  // room given by the last prepare(), not yet committed
  std::error_code failed_;
};

}  // namespace wmd::proto
