// Truncated and corrupted frames give clean errors, never a crash or a bogus success.
#include <doctest/doctest.h>

#include <cstdio>
#include <random>

#include "proto/codec.hpp"
#include "tests/unit/proto/sample_messages.hpp"

namespace wmd::proto {
namespace {

using testing::decode_frame;
using testing::test_limits;

// A Hello of another protocol version is decoded only up to its fixed prefix, so it does not
// re-encode to the same bytes.
bool is_foreign_hello(const Message& m) {
  const auto* hello = std::get_if<Hello>(&m);
  return hello != nullptr && hello->protocol_version != kProtocolVersion;
}

// A frame's header with its body cut to `body_bytes`, the way a peer that died mid-frame
// leaves it, decoded directly.
Result<Message> decode_cut_body(const std::vector<std::uint8_t>& frame, std::size_t body_bytes) {
  const auto type = static_cast<MessageType>(frame[4]);
  return decode_body(type,
                     std::span<const std::uint8_t>(frame).subspan(kFrameHeaderBytes, body_bytes),
                     test_limits());
}

TEST_CASE("a body cut at any byte offset is truncated") {
  for (const Message& message : testing::sample_messages()) {
    CAPTURE(to_string(type_of(message)));
    const std::vector<std::uint8_t> frame = encode(message);
    const std::size_t body = frame.size() - kFrameHeaderBytes;
    for (std::size_t cut = 0; cut < body; ++cut) {
      CAPTURE(cut);
      CHECK(decode_cut_body(frame, cut).error() == errc::truncated);
    }
  }
}

TEST_CASE("a stream cut at any byte offset needs more bytes, then completes") {
  for (const Message& message : testing::sample_messages()) {
    CAPTURE(to_string(type_of(message)));
    const std::vector<std::uint8_t> frame = encode(message);
    for (std::size_t cut = 0; cut < frame.size(); ++cut) {
      CAPTURE(cut);
      FrameReader reader(test_limits());
      reader.feed(std::span<const std::uint8_t>(frame).first(cut));
      auto first = reader.next();
      REQUIRE(first.ok());
      CHECK_FALSE(first->has_value());
      reader.feed(std::span<const std::uint8_t>(frame).subspan(cut));
      auto second = reader.next();
      REQUIRE(second.ok());
      REQUIRE(second->has_value());
      CHECK(**second == message);
    }
  }
}

TEST_CASE("every length field set to a huge value gives a clean error") {
  // Overwrite each body position with the start of a 9-byte maximal varint or 0xff bytes;
  // whatever field it lands on, the decoder must refuse or accept without crashing, and
  // anything it accepts must re-encode to the same bytes (the encoding is canonical).
  for (const Message& message : testing::sample_messages()) {
    CAPTURE(to_string(type_of(message)));
    const std::vector<std::uint8_t> frame = encode(message);
    for (std::size_t pos = kFrameHeaderBytes; pos < frame.size(); ++pos) {
      for (std::size_t width : {1, 2, 4, 8}) {
        std::vector<std::uint8_t> bad = frame;
        for (std::size_t i = pos; i < pos + width && i < bad.size(); ++i) bad[i] = 0xff;
        Result<Message> decoded = decode_frame(bad, test_limits());
        if (decoded.ok() && !is_foreign_hello(*decoded)) CHECK(encode(*decoded) == bad);
      }
    }
  }
}

TEST_CASE("random byte flips give clean errors or a canonical message") {
  const unsigned seed = 8504;  // fixed: every run tests the same cases
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const auto messages = testing::sample_messages();
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    const Message& message = messages[rng() % messages.size()];
    std::vector<std::uint8_t> frame = encode(message);
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const std::size_t pos = kFrameHeaderBytes + rng() % (frame.size() - kFrameHeaderBytes);
      frame[pos] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    }
    Result<Message> decoded = decode_frame(frame, test_limits());
    if (decoded.ok()) {
      ++accepted;
      if (!is_foreign_hello(*decoded)) REQUIRE(encode(*decoded) == frame);
    } else {
      const auto e = decoded.error();
      const bool expected = e == errc::truncated || e == errc::malformed ||
                            e == errc::beyond_max_size || e == errc::invalid_peer_id;
      CHECK_MESSAGE(expected, e.message());
    }
  }
  MESSAGE("accepted " << accepted << " of 20000 corrupted frames (they were still valid)");
}

TEST_CASE("a header whose length disagrees with the body is caught by the stream reader") {
  std::vector<std::uint8_t> frame = encode(Heartbeat{7, false});
  frame[0] = 200;  // claims a longer body than is there: the reader waits
  FrameReader reader(test_limits());
  reader.feed(frame);
  auto next = reader.next();
  REQUIRE(next.ok());
  CHECK_FALSE(next->has_value());

  frame = encode(Heartbeat{7, false});
  frame[0] = 3;  // shorter: the body is cut
  FrameReader reader2(test_limits());
  reader2.feed(frame);
  CHECK(reader2.next().error() == errc::truncated);
}

}  // namespace
}  // namespace wmd::proto
