#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "proto/codec.hpp"
#include "tests/unit/proto/sample_messages.hpp"

namespace wmd::proto {
namespace {

using testing::test_limits;

std::vector<std::uint8_t> stream_of(const std::vector<Message>& messages) {
  std::vector<std::uint8_t> stream;
  for (const Message& m : messages) encode(m, stream);
  return stream;
}

std::vector<Message> sample_messages_20_times() {
  std::vector<Message> messages;
  for (int i = 0; i < 20; ++i) {
    for (const Message& m : testing::sample_messages()) messages.push_back(m);
  }
  return messages;
}

// Hands `stream` to a reader piece by piece and collects every message. deliver(reader, rest)
// gives the reader a first part of `rest` and returns how many bytes it gave.
template <typename Deliver>
std::vector<Message> read_all_with(const std::vector<std::uint8_t>& stream, Deliver deliver) {
  FrameReader reader(test_limits());
  std::vector<Message> out;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    pos += deliver(reader, std::span<const std::uint8_t>(stream).subspan(pos));
    for (;;) {
      auto next = reader.next();
      REQUIRE(next.ok());
      if (!next->has_value()) break;
      out.push_back(std::move(**next));
    }
  }
  CHECK(reader.buffered_bytes() == 0);
  return out;
}

// Feeds `stream` in chunks from `next_chunk`.
template <typename ChunkSize>
std::vector<Message> read_all(const std::vector<std::uint8_t>& stream, ChunkSize next_chunk) {
  return read_all_with(stream, [&](FrameReader& reader, std::span<const std::uint8_t> rest) {
    const std::size_t n = std::min(next_chunk(), rest.size());
    reader.feed(rest.first(n));
    return n;
  });
}

TEST_CASE("the frame reader decodes a stream fed one byte at a time") {
  const auto messages = testing::sample_messages();
  CHECK(read_all(stream_of(messages), [] { return std::size_t{1}; }) == messages);
}

TEST_CASE("the frame reader decodes a stream fed in random chunks") {
  const unsigned seed = 5150;  // fixed: every run tests the same cases
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::vector<Message> messages = sample_messages_20_times();
  const auto stream = stream_of(messages);
  for (int round = 0; round < 20; ++round) {
    const std::size_t max_chunk = 1 + rng() % 20000;
    CHECK(read_all(stream, [&] { return 1 + rng() % max_chunk; }) == messages);
  }
}

TEST_CASE("the frame reader decodes a stream received in place (prepare, fill part, commit)") {
  const unsigned seed = 6060;  // fixed: every run tests the same cases
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::vector<Message> messages = sample_messages_20_times();
  const auto stream = stream_of(messages);
  for (int round = 0; round < 10; ++round) {
    const auto out = read_all_with(stream, [&](FrameReader& reader, auto rest) {
      // A socket read fills any part of the room it was given, as little as one byte.
      const std::size_t room_bytes = 1 + rng() % 70000;
      const std::span<std::uint8_t> room = reader.prepare(room_bytes);
      REQUIRE(room.size() == room_bytes);
      const std::size_t n = std::min(std::size_t{1 + rng() % room_bytes}, rest.size());
      std::memcpy(room.data(), rest.data(), n);
      reader.commit(n);
      return n;
    });
    CHECK(out == messages);
  }
}

TEST_CASE("bytes committed after an error are not decoded") {
  FrameReader reader(test_limits());
  std::vector<std::uint8_t> bad = encode(Heartbeat{1, false});
  bad[4] = 200;  // unknown type
  reader.feed(bad);
  CHECK(reader.next().error() == errc::unknown_message_type);
  const auto good = encode(Heartbeat{2, false});
  const std::span<std::uint8_t> room = reader.prepare(good.size());
  std::memcpy(room.data(), good.data(), good.size());
  reader.commit(good.size());
  CHECK(reader.next().error() == errc::unknown_message_type);
}

TEST_CASE("the frame reader stays failed after an error") {
  FrameReader reader(test_limits());
  std::vector<std::uint8_t> bad = encode(Heartbeat{1, false});
  bad[4] = 200;  // unknown type
  reader.feed(bad);
  CHECK(reader.next().error() == errc::unknown_message_type);
  reader.feed(encode(Heartbeat{2, false}));
  CHECK(reader.next().error() == errc::unknown_message_type);
  CHECK(reader.next().error() == errc::unknown_message_type);
}

TEST_CASE("the frame reader refuses an oversized frame from its header alone") {
  Limits limits = test_limits();
  limits.max_frame_bytes = kMinMaxFrameBytes;
  FrameReader reader(limits);
  const std::vector<std::uint8_t> header = {0xff, 0xff, 0xff, 0x7f, 2};
  reader.feed(header);
  CHECK(reader.next().error() == errc::frame_too_large);
}

TEST_CASE("the frame reader compacts its buffer as frames are consumed") {
  FrameReader reader(test_limits());
  const auto frame = encode(testing::sample_page_states());
  // Many frames, always leaving a partial one behind: the buffer must not keep growing.
  for (int i = 0; i < 200; ++i) {
    reader.feed(frame);
    reader.feed(std::span<const std::uint8_t>(frame).first(10));
    auto next = reader.next();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    CHECK(reader.buffered_bytes() == 10);
    reader.feed(std::span<const std::uint8_t>(frame).subspan(10));
    next = reader.next();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    CHECK(reader.buffered_bytes() == 0);
  }
}

TEST_CASE("set_limits applies to frames decoded afterwards") {
  Limits before = test_limits();
  before.page_size_bytes = 0;
  FrameReader reader(before);
  reader.feed(encode(testing::sample_hello()));
  reader.feed(encode(testing::sample_page_states()));
  auto hello = reader.next();
  REQUIRE(hello.ok());
  REQUIRE(hello->has_value());
  reader.set_limits(test_limits());  // handshake done: the page size is known
  auto states = reader.next();
  REQUIRE(states.ok());
  REQUIRE(states->has_value());
  CHECK(**states == Message{testing::sample_page_states()});
}

}  // namespace
}  // namespace wmd::proto
