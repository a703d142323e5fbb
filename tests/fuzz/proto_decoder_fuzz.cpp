// libFuzzer target for the wire decoder. For any input it checks that:
//  - decode_header/decode_body never crash, read out of bounds or allocate without bound;
//  - every frame they accept re-encodes to exactly the same bytes (the encoding is canonical),
//    and a page states frame decodes alike in the table form (Limits::stamped_page_states);
//  - a FrameReader fed the same bytes in two arbitrary chunks yields the same messages and the
//    same error as the frame-by-frame decode.
// Built by scripts/run-fuzz with clang (-fsanitize=fuzzer,address,undefined).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "proto/codec.hpp"
#include "tests/fuzz/fuzz_limits.hpp"

namespace {

using wmd::proto::FrameReader;
using wmd::proto::kFrameHeaderBytes;
using wmd::proto::Message;

void check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input as a crash
}

bool is_foreign_hello(const Message& m) {
  const auto* hello = std::get_if<wmd::proto::Hello>(&m);
  return hello != nullptr && hello->protocol_version != wmd::proto::kProtocolVersion;
}

struct Decoded {
  std::vector<Message> messages;
  std::error_code error;  // the error that stopped decoding, if any
};

// Frame by frame with decode_header and decode_body, checking the canonical encoding.
Decoded decode_frames(std::span<const std::uint8_t> input) {
  const auto limits = wmd::proto::fuzz::fuzz_limits();
  Decoded out;
  while (input.size() >= kFrameHeaderBytes) {
    auto header = wmd::proto::decode_header(input.first<kFrameHeaderBytes>(), limits);
    if (!header) {
      out.error = header.error().code();
      return out;
    }
    const std::size_t frame_bytes = kFrameHeaderBytes + header->body_bytes;
    if (input.size() < frame_bytes) return out;  // needs more bytes
    auto message = wmd::proto::decode_body(
        header->type, input.subspan(kFrameHeaderBytes, header->body_bytes), limits);
    if (!message) {
      out.error = message.error().code();
      return out;
    }
    if (!is_foreign_hello(*message)) {
      const std::vector<std::uint8_t> again = wmd::proto::encode(*message);
      check(again.size() == frame_bytes && std::equal(again.begin(), again.end(), input.begin()));
    }
    if (header->type == wmd::proto::MessageType::page_states) {
      // The table form (wmdd's) accepts the same frames, holds the same states and re-encodes
      // to the same bytes.
      auto stamped_limits = limits;
      stamped_limits.stamped_page_states = true;
      auto stamped = wmd::proto::decode_body(
          header->type, input.subspan(kFrameHeaderBytes, header->body_bytes), stamped_limits);
      check(stamped.ok() && *stamped == *message);
      const std::vector<std::uint8_t> again = wmd::proto::encode(*stamped);
      check(again.size() == frame_bytes && std::equal(again.begin(), again.end(), input.begin()));
    }
    out.messages.push_back(std::move(message).value());
    input = input.subspan(frame_bytes);
  }
  return out;
}

Decoded read_stream(std::span<const std::uint8_t> input, std::size_t split) {
  FrameReader reader(wmd::proto::fuzz::fuzz_limits());
  Decoded out;
  auto drain = [&] {
    for (;;) {
      auto next = reader.next();
      if (!next) {
        out.error = next.error().code();
        return false;
      }
      if (!next->has_value()) return true;
      out.messages.push_back(std::move(**next));
    }
  };
  reader.feed(input.first(split));
  if (!drain()) return out;
  reader.feed(input.subspan(split));
  drain();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  const Decoded frames = decode_frames(input);

  // The split point comes from the input itself so that the fuzzer explores it too.
  const std::size_t split = size == 0 ? 0 : (std::size_t{data[size - 1]} * 131) % (size + 1);
  const Decoded stream = read_stream(input, split);
  check(stream.error == frames.error);
  check(stream.messages == frames.messages);

  // The body decoder on its own, for every message type.
  if (size >= 1) {
    const auto type = static_cast<wmd::proto::MessageType>(data[0] % 10);
    (void)wmd::proto::decode_body(type, input.subspan(1), wmd::proto::fuzz::fuzz_limits());
  }
  return 0;
}
