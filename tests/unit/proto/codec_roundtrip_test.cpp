#include <doctest/doctest.h>

#include "engine/stamped_pages.hpp"
#include "proto/codec.hpp"
#include "tests/unit/proto/sample_messages.hpp"

namespace wmd::proto {
namespace {

using testing::decode_frame;
using testing::test_limits;

Message round_trip(const Message& message, const Limits& limits = test_limits()) {
  const std::vector<std::uint8_t> frame = encode(message);
  Result<Message> decoded = decode_frame(frame, limits);
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
  return std::move(decoded).value();
}

TEST_CASE("every message type survives encode then decode unchanged") {
  for (const Message& message : testing::sample_messages()) {
    CAPTURE(to_string(type_of(message)));
    CHECK(round_trip(message) == message);
  }
}

TEST_CASE("page states of many runs round trip (the encoder keeps up to 32 before writing)") {
  for (const std::uint32_t runs : {31u, 32u, 33u, 200u}) {
    CAPTURE(runs);
    PageState page = testing::sample_page(2);
    page.versions.clear();
    const std::uint32_t length = testing::kTestPageBytes / runs;
    for (std::uint32_t i = 0; i < runs; ++i) {
      const std::uint32_t end = i + 1 == runs ? testing::kTestPageBytes : (i + 1) * length;
      page.versions.push_back({i * length, end, {1 + i % 3, i % 2 == 0 ? "node-a" : "node-b"}});
    }
    PageStates states;
    states.pages = {page, testing::sample_page(5)};
    CHECK(round_trip(states) == Message{states});
  }
}

TEST_CASE("a decoded page states frame lists the ids its runs name, sorted, each once") {
  // sample pages: node-a and node-b (several runs each), node-c, and zero-stamp runs (no id).
  const Message decoded = round_trip(testing::sample_page_states());
  const auto& states = std::get<PageStates>(decoded);
  CHECK(states.named_peers == std::vector<PeerId>{"node-a", "node-b", "node-c"});
  CHECK(std::get<PageStates>(round_trip(PageStates{})).named_peers.empty());
  // Built in memory (no table): the same ids, found from the runs.
  const PageStates built = testing::sample_page_states();
  CHECK(built.named_peers.empty());
  CHECK(peers_named_by(built) == states.named_peers);
  CHECK(peers_named_by(states) == states.named_peers);
}

TEST_CASE("page states decode to the table form on request, and encode from it alike") {
  const PageStates built = testing::sample_page_states();
  Limits stamped_limits = test_limits();
  stamped_limits.stamped_page_states = true;
  const Message decoded = round_trip(built, stamped_limits);
  const auto& states = std::get<PageStates>(decoded);
  CHECK(states.pages.empty());
  REQUIRE(states.stamped.pages.size() == built.pages.size());
  CHECK(page_state_count(states) == built.pages.size());
  CHECK(states.stamped.stamps.size() >= 3);
  CHECK(all_page_states(states) == built.pages);
  CHECK(states == built);
  CHECK(peers_named_by(states) == std::vector<PeerId>{"node-a", "node-b", "node-c"});
  // The table form goes out as the same frame.
  CHECK(encode(decoded) == encode(Message{built}));

  SUBCASE("a table form with an entry no run names goes out one page at a time") {
    PageStates extra;
    extra.stamped = to_stamped(built.pages);
    extra.stamped.stamps.push_back(Timestamp{1u << 30, "node-z"});
    CHECK(encode(Message{extra}) == encode(Message{built}));
    // A run past the pages' own names no entry of the frame.
    PageStates orphan;
    orphan.stamped = to_stamped(built.pages);
    orphan.stamped.stamps.push_back(Timestamp{1u << 30, "node-z"});
    orphan.stamped.runs.push_back(
        StampedRun{0, 1, static_cast<std::uint32_t>(orphan.stamped.stamps.size())});
    CHECK(encode(Message{orphan}) == encode(Message{built}));
  }
  SUBCASE("a table form whose table is out of order goes out one page at a time") {
    PageStates unsorted;
    unsorted.stamped = to_stamped(built.pages);
    REQUIRE(unsorted.stamped.stamps.size() >= 2);
    std::swap(unsorted.stamped.stamps[0], unsorted.stamped.stamps[1]);
    for (StampedRun& run : unsorted.stamped.runs) {
      if (run.stamp == 1 || run.stamp == 2) run.stamp = 3 - run.stamp;  // the same states
    }
    CHECK(unsorted == built);
    CHECK(encode(Message{unsorted}) == encode(Message{built}));
  }
}

TEST_CASE("a frame starts with the body length and the message type") {
  for (const Message& message : testing::sample_messages()) {
    const std::vector<std::uint8_t> frame = encode(message);
    REQUIRE(frame.size() >= kFrameHeaderBytes);
    const std::uint32_t body =
        frame[0] | frame[1] << 8 | frame[2] << 16 | std::uint32_t{frame[3]} << 24;
    CHECK(body == frame.size() - kFrameHeaderBytes);
    CHECK(frame[4] == static_cast<std::uint8_t>(type_of(message)));
  }
}

TEST_CASE("encode appends to a buffer that already holds frames") {
  std::vector<std::uint8_t> stream;
  const auto messages = testing::sample_messages();
  for (const Message& m : messages) encode(m, stream);
  FrameReader reader(test_limits());
  reader.feed(stream);
  for (const Message& m : messages) {
    auto next = reader.next();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    CHECK(**next == m);
  }
  CHECK(reader.buffered_bytes() == 0);
}

TEST_CASE("messages with empty collections round trip") {
  Hello hello = testing::sample_hello();
  hello.clock.clear();
  hello.cluster.clear();
  CHECK(round_trip(hello) == Message{hello});

  Patch patch = testing::sample_patch();
  patch.runs.clear();
  patch.bytes.clear();
  CHECK(round_trip(patch) == Message{patch});

  Digests digests;
  digests.size_bytes = 0;
  CHECK(round_trip(digests) == Message{digests});

  CHECK(round_trip(PageStates{}) == Message{PageStates{}});
  CHECK(round_trip(Error{}) == Message{Error{}});
  CHECK(round_trip(Heartbeat{}) == Message{Heartbeat{}});
  CHECK(round_trip(CatchupDone{}) == Message{CatchupDone{}});
  CHECK(round_trip(Growth{}) == Message{Growth{}});
}

TEST_CASE("strings of the largest allowed length round trip") {
  Hello hello = testing::sample_hello();
  hello.cluster = std::string(kMaxClusterNameBytes, 'c');
  hello.peer_id = std::string(kMaxPeerIdBytes, '~');
  hello.clock = {{std::string(kMaxPeerIdBytes, '!'), ~std::uint64_t{0}}};
  CHECK(round_trip(hello) == Message{hello});

  Error error{0xffff, std::string(kMaxErrorTextBytes, 'e')};
  CHECK(round_trip(error) == Message{error});

  Patch patch = testing::sample_patch();
  patch.origin = std::string(kMaxPeerIdBytes, 'o');
  patch.seq = ~std::uint64_t{0};
  patch.lamport = ~std::uint64_t{0};
  CHECK(round_trip(patch) == Message{patch});
}

TEST_CASE("extreme numeric values round trip") {
  Limits limits = test_limits();
  limits.max_size_bytes = ~std::uint64_t{0};
  limits.page_size_bytes = 1;

  Patch patch;
  patch.origin = "p";
  patch.seq = 1;
  patch.lamport = 1;
  patch.runs = {{~std::uint64_t{0} - 1, 1}};
  patch.bytes = {0xaa};
  CHECK(round_trip(patch, limits) == Message{patch});

  Digests digests;
  digests.size_bytes = ~std::uint64_t{0};
  digests.digests = {{0, 0}, {~std::uint64_t{0} - 1, 1}};
  CHECK(round_trip(digests, limits) == Message{digests});

  PageStates states;
  PageState page;
  page.page_index = ~std::uint64_t{0} - 1;
  page.bytes = {0x5a};
  page.versions = {{0, 1, {~std::uint64_t{0}, "z"}}};
  states.pages = {page};
  CHECK(round_trip(states, limits) == Message{states});

  CHECK(round_trip(Growth{~std::uint64_t{0}}, limits) == Message{Growth{~std::uint64_t{0}}});
  CHECK(round_trip(CatchupDone{~std::uint64_t{0}}) == Message{CatchupDone{~std::uint64_t{0}}});
}

TEST_CASE("a Hello of another protocol version decodes its fixed prefix for the refusal") {
  Hello hello = testing::sample_hello();
  hello.protocol_version = kProtocolVersion + 1;
  std::vector<std::uint8_t> frame = encode(hello);
  frame.push_back(0x99);  // a future version may append fields
  frame[0] += 1;
  Result<Message> decoded = decode_frame(frame, test_limits());
  REQUIRE(decoded.ok());
  const auto& got = std::get<Hello>(*decoded);
  CHECK(got.protocol_version == kProtocolVersion + 1);
  CHECK(got.cluster == hello.cluster);
  CHECK(got.peer_id == hello.peer_id);
  CHECK(got.page_size_bytes == hello.page_size_bytes);
}

TEST_CASE("type_of and to_string name every message type") {
  for (const Message& message : testing::sample_messages()) {
    CHECK(std::string(to_string(type_of(message))) != "unknown");
  }
  CHECK(type_of(Message{Patch{}}) == MessageType::patch);
  CHECK(std::string(to_string(MessageType::page_states)) == "page_states");
  CHECK(std::string(to_string(static_cast<MessageType>(0))) == "unknown");
}

}  // namespace
}  // namespace wmd::proto
