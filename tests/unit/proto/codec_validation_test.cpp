// Every value the decoder reads is checked against the limits and the message invariants.
#include <doctest/doctest.h>

#include <array>
#include <functional>

#include "proto/byte_io.hpp"
#include "proto/codec.hpp"
#include "proto/wire_format.hpp"
#include "tests/unit/proto/sample_messages.hpp"

namespace wmd::proto {
namespace {

using testing::decode_frame;
using testing::kTestMaxSizeBytes;
using testing::kTestPageBytes;
using testing::test_limits;

std::error_code error_of(const Message& message, const Limits& limits = test_limits()) {
  return decode_frame(encode(message), limits).error().code();
}

// Decodes a body written by hand.
std::error_code error_of_body(MessageType type, const std::function<void(ByteWriter&)>& write,
                              const Limits& limits = test_limits()) {
  std::vector<std::uint8_t> body;
  ByteWriter w(body);
  write(w);
  return decode_body(type, body, limits).error().code();
}

void write_id(ByteWriter& w, const std::string& id) {
  w.u8(static_cast<std::uint8_t>(id.size()));
  w.bytes(id);
}

std::array<std::uint8_t, kFrameHeaderBytes> header(std::uint32_t body, std::uint8_t type) {
  return {static_cast<std::uint8_t>(body), static_cast<std::uint8_t>(body >> 8),
          static_cast<std::uint8_t>(body >> 16), static_cast<std::uint8_t>(body >> 24), type};
}

const std::error_code kOk{};

TEST_CASE("a header announcing more than max_frame_bytes is frame_too_large") {
  Limits limits = test_limits();
  limits.max_frame_bytes = kMinMaxFrameBytes;
  CHECK(decode_header(header(kMinMaxFrameBytes, 2), limits).ok());
  CHECK(decode_header(header(kMinMaxFrameBytes + 1, 2), limits).error() == errc::frame_too_large);
  CHECK(decode_header(header(0xffffffffU, 2), limits).error() == errc::frame_too_large);
  const std::vector<std::uint8_t> body(kMinMaxFrameBytes + 1, 0);
  CHECK(decode_body(MessageType::patch, body, limits).error() == errc::frame_too_large);
}

TEST_CASE("unknown message types are refused in the header and the body") {
  for (std::uint8_t type : {0, 9, 100, 255}) {
    CAPTURE(int{type});
    CHECK(decode_header(header(0, type), test_limits()).error() == errc::unknown_message_type);
    CHECK(decode_body(static_cast<MessageType>(type), {}, test_limits()).error() ==
          errc::unknown_message_type);
  }
  for (std::uint8_t type = 1; type <= 8; ++type) {
    CHECK(decode_header(header(0, type), test_limits()).ok());
  }
}

TEST_CASE("a byte after the last field of any message is malformed") {
  for (const Message& message : testing::sample_messages()) {
    CAPTURE(to_string(type_of(message)));
    std::vector<std::uint8_t> frame = encode(message);
    frame.push_back(0);
    frame[0] += 1;  // sample bodies are far below 255 bytes... or carry into byte 1
    if (frame[0] == 0) frame[1] += 1;
    CHECK(decode_frame(frame, test_limits()).error() == errc::malformed);
  }
}

TEST_CASE("bad peer ids are refused wherever they appear") {
  for (const std::string& bad : {std::string(), std::string("has space"), std::string(65, 'x'),
                                 std::string("tab\t"), std::string("caf\xc3\xa9")}) {
    CAPTURE(bad);
    Hello hello = testing::sample_hello();
    hello.peer_id = bad;
    CHECK(error_of(hello) == errc::invalid_peer_id);

    hello = testing::sample_hello();
    hello.clock[bad] = 1;
    CHECK(error_of(hello) == errc::invalid_peer_id);

    Patch patch = testing::sample_patch();
    patch.origin = bad;
    CHECK(error_of(patch) == errc::invalid_peer_id);

    if (bad.empty()) continue;  // the empty id is the zero timestamp's, checked below
    PageStates states = testing::sample_page_states();
    states.pages[0].versions[1].ts.peer = bad;
    CHECK(error_of(states) == errc::invalid_peer_id);
  }
}

TEST_CASE("hello: cluster name length and characters, size and clock order are checked") {
  Hello hello = testing::sample_hello();
  hello.cluster = std::string(kMaxClusterNameBytes + 1, 'c');
  CHECK(error_of(hello) == errc::malformed);
  hello.cluster = "new\nline";
  CHECK(error_of(hello) == errc::malformed);

  hello = testing::sample_hello();
  hello.size_bytes = kTestMaxSizeBytes + 1;
  CHECK(error_of(hello) == errc::beyond_max_size);
  hello.size_bytes = kTestMaxSizeBytes;
  CHECK(error_of(hello) == kOk);

  auto clock_body = [](const std::vector<std::string>& peers) {
    return [peers](ByteWriter& w) {
      w.u16(kProtocolVersion);
      write_id(w, "c");
      write_id(w, "me");
      w.u32(kTestPageBytes);
      w.u64(0);
      w.u64(0);
      w.varint(peers.size());
      for (const auto& p : peers) {
        write_id(w, p);
        w.varint(1);
      }
    };
  };
  CHECK(error_of_body(MessageType::hello, clock_body({"a", "b"})) == kOk);
  CHECK(error_of_body(MessageType::hello, clock_body({"b", "a"})) == errc::malformed);
  CHECK(error_of_body(MessageType::hello, clock_body({"a", "a"})) == errc::malformed);
}

TEST_CASE("patch: runs past the maximum size are beyond_max_size, overflow included") {
  Patch patch = testing::sample_patch();
  patch.runs.back() = {kTestMaxSizeBytes - 1, 2};
  CHECK(error_of(patch) == errc::beyond_max_size);
  patch.runs.back() = {kTestMaxSizeBytes, 2};
  CHECK(error_of(patch) == errc::beyond_max_size);

  Limits unconfigured = test_limits();
  unconfigured.max_size_bytes = 0;
  CHECK(error_of(testing::sample_patch(), unconfigured) == errc::beyond_max_size);

  auto one_run = [](std::uint64_t gap, std::uint64_t length, std::uint64_t payload) {
    return [=](ByteWriter& w) {
      write_id(w, "p");
      w.varint(1);
      w.varint(1);
      w.varint(1);
      w.varint(gap);
      w.varint(length);
      for (std::uint64_t i = 0; i < payload; ++i) w.u8(0);
    };
  };
  Limits all = test_limits();
  all.max_size_bytes = ~std::uint64_t{0};
  CHECK(error_of_body(MessageType::patch, one_run(5, 1, 1), all) == kOk);
  // gap + length wraps around 2^64: must not look like a small offset.
  CHECK(error_of_body(MessageType::patch, one_run(~std::uint64_t{0}, 2, 2), all) ==
        errc::beyond_max_size);
  CHECK(error_of_body(MessageType::patch, one_run(~std::uint64_t{0}, 1, 1), all) ==
        errc::beyond_max_size);
}

TEST_CASE("patch: runs cannot go backwards, be empty, or exceed 32 bits") {
  auto runs_body = [](const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs) {
    return [runs](ByteWriter& w) {
      write_id(w, "p");
      w.varint(1);
      w.varint(1);
      w.varint(runs.size());
      std::uint64_t payload = 0;
      for (auto [gap, length] : runs) {
        w.varint(gap);
        w.varint(length);
        payload += length;
      }
      for (std::uint64_t i = 0; i < payload && i < 100; ++i) w.u8(0);
    };
  };
  CHECK(error_of_body(MessageType::patch, runs_body({{0, 4}, {0, 4}})) == kOk);  // adjacent
  CHECK(error_of_body(MessageType::patch, runs_body({{0, 0}, {0, 4}})) == errc::malformed);
  CHECK(error_of_body(MessageType::patch, runs_body({{0, 0x100000000ULL}})) == errc::malformed);
  // "Backwards" can only be written as a wrapping gap, which lands beyond the maximum.
  CHECK(error_of_body(MessageType::patch, runs_body({{100, 4}, {~std::uint64_t{0} - 50, 4}})) ==
        errc::beyond_max_size);
}

TEST_CASE("patch: sequence and lamport start at 1, payload matches the runs exactly") {
  Patch patch = testing::sample_patch();
  patch.seq = 0;
  CHECK(error_of(patch) == errc::malformed);
  patch = testing::sample_patch();
  patch.lamport = 0;
  CHECK(error_of(patch) == errc::malformed);

  const std::vector<std::uint8_t> frame = encode(testing::sample_patch());
  const auto body = std::span<const std::uint8_t>(frame).subspan(kFrameHeaderBytes);
  // Payload one byte shorter than the runs say, then one byte longer.
  CHECK(decode_body(MessageType::patch, body.first(body.size() - 1), test_limits()).error() ==
        errc::truncated);
  std::vector<std::uint8_t> longer(body.begin(), body.end());
  longer.push_back(1);
  CHECK(decode_body(MessageType::patch, longer, test_limits()).error() == errc::malformed);
}

TEST_CASE("hostile counts are refused before anything is allocated") {
  const std::uint64_t huge = std::uint64_t{1} << 62;
  CHECK(error_of_body(MessageType::patch, [&](ByteWriter& w) {
          write_id(w, "p");
          w.varint(1);
          w.varint(1);
          w.varint(huge);
        }) == errc::truncated);
  CHECK(error_of_body(MessageType::digests, [&](ByteWriter& w) {
          w.u64(0);
          w.u8(0);
          w.varint(huge);
        }) == errc::truncated);
  CHECK(error_of_body(MessageType::page_states, [&](ByteWriter& w) { w.varint(huge); }) ==
        errc::truncated);
  CHECK(error_of_body(MessageType::page_states, [&](ByteWriter& w) {
          w.varint(0);
          w.varint(huge);
        }) == errc::truncated);
  CHECK(error_of_body(MessageType::hello, [&](ByteWriter& w) {
          w.u16(kProtocolVersion);
          write_id(w, "c");
          write_id(w, "me");
          w.u32(kTestPageBytes);
          w.u64(0);
          w.u64(0);
          w.varint(huge);
        }) == errc::truncated);
  // One page fewer than announced.
  PageStates states = testing::sample_page_states();
  std::vector<std::uint8_t> frame = encode(states);
  CHECK(decode_body(MessageType::page_states,
                    std::span<const std::uint8_t>(frame).subspan(kFrameHeaderBytes, 100),
                    test_limits())
            .error() == errc::truncated);
}

TEST_CASE("growth beyond the maximum size is refused") {
  CHECK(error_of(Growth{kTestMaxSizeBytes}) == kOk);
  CHECK(error_of(Growth{kTestMaxSizeBytes + 1}) == errc::beyond_max_size);
}

TEST_CASE("digests: flags, size and page indices are checked") {
  Digests digests = testing::sample_digests();
  CHECK(error_of(digests) == kOk);
  digests.size_bytes = kTestMaxSizeBytes + 1;
  CHECK(error_of(digests) == errc::beyond_max_size);

  digests = testing::sample_digests();
  const std::uint64_t pages = kTestMaxSizeBytes / kTestPageBytes;
  digests.digests = {{pages - 1, 1}};
  CHECK(error_of(digests) == kOk);
  digests.digests = {{pages, 1}};
  CHECK(error_of(digests) == errc::beyond_max_size);
  digests.digests = {{3, 1}, {pages, 1}};
  CHECK(error_of(digests) == errc::beyond_max_size);

  // A maximum size that is not a page multiple still admits its last partial page.
  Limits partial = test_limits();
  partial.max_size_bytes = kTestPageBytes * 3 + 1;
  digests.size_bytes = partial.max_size_bytes;
  digests.digests = {{3, 1}};
  CHECK(error_of(digests, partial) == kOk);
  digests.digests = {{4, 1}};
  CHECK(error_of(digests, partial) == errc::beyond_max_size);

  std::vector<std::uint8_t> frame = encode(testing::sample_digests());
  frame[kFrameHeaderBytes + 8] |= 0x04;  // a reserved flag bit
  CHECK(decode_frame(frame, test_limits()).error() == errc::malformed);

  Limits before_handshake = test_limits();
  before_handshake.page_size_bytes = 0;
  CHECK(error_of(testing::sample_digests(), before_handshake) == errc::malformed);
}

TEST_CASE("page states: only after the handshake and exactly one page long") {
  Limits before_handshake = test_limits();
  before_handshake.page_size_bytes = 0;
  CHECK(error_of(testing::sample_page_states(), before_handshake) == errc::malformed);
  CHECK(error_of(PageStates{}, before_handshake) == errc::malformed);

  Limits bigger = test_limits();
  bigger.page_size_bytes = kTestPageBytes * 2;
  CHECK(error_of(testing::sample_page_states(), bigger) != kOk);
  Limits smaller = test_limits();
  smaller.page_size_bytes = kTestPageBytes / 2;
  CHECK(error_of(testing::sample_page_states(), smaller) != kOk);
}

TEST_CASE("page states: page index times page size must be below the maximum size") {
  PageStates states = testing::sample_page_states();
  states.pages[1].page_index = kTestMaxSizeBytes / kTestPageBytes - 1;
  CHECK(error_of(states) == kOk);
  states.pages[1].page_index = kTestMaxSizeBytes / kTestPageBytes;
  CHECK(error_of(states) == errc::beyond_max_size);
  states.pages[1].page_index = ~std::uint64_t{0};
  CHECK(error_of(states) == errc::beyond_max_size);
}

TEST_CASE("page states: version runs must be canonical") {
  auto with_versions = [](std::vector<VersionRun> versions) {
    PageStates states;
    states.pages = {testing::sample_page(1)};
    states.pages[0].versions = std::move(versions);
    return states;
  };
  const std::uint32_t page = kTestPageBytes;
  CHECK(error_of(with_versions({{0, page, {0, ""}}})) == kOk);
  CHECK(error_of(with_versions({{0, 10, {0, ""}}, {10, page, {2, "b"}}})) == kOk);
  // Adjacent runs with equal timestamps were not merged.
  CHECK(error_of(with_versions({{0, 10, {2, "b"}}, {10, page, {2, "b"}}})) == errc::malformed);
  CHECK(error_of(with_versions({{0, 10, {0, ""}}, {10, page, {0, ""}}})) == errc::malformed);
  // Not covering the page, or past its end.
  CHECK(error_of(with_versions({{0, page - 1, {2, "b"}}})) == errc::malformed);
  CHECK(error_of(with_versions({{0, 10, {2, "b"}}, {10, page + 1, {3, "b"}}})) == errc::malformed);
  // No runs at all (a second page keeps the frame long enough to hold two page states).
  PageStates no_runs = with_versions({});
  no_runs.pages.push_back(testing::sample_page(2));
  CHECK(error_of(no_runs) == errc::malformed);
}

// A PageStates body by hand: tables, then one page of `fill` bytes with the given wire runs.
struct StampEntry {
  std::uint64_t delta = 0;
  std::uint64_t peer_ref = 0;
};
struct WireRunSpec {
  std::uint64_t length = 0;
  bool sparse = false;
  std::uint64_t stamp_ref = 0;
};
std::function<void(ByteWriter&)> page_states_body(std::vector<std::string> peers,
                                                  std::vector<StampEntry> stamps,
                                                  std::vector<WireRunSpec> runs,
                                                  std::vector<std::uint8_t> page_bytes) {
  return [=](ByteWriter& w) {
    w.varint(peers.size());
    for (const auto& p : peers) write_id(w, p);
    w.varint(stamps.size());
    for (const auto& s : stamps) {
      w.varint(s.delta);
      w.varint(s.peer_ref);
    }
    w.varint(1);  // one page
    w.varint(0);  // index 0
    w.bytes(page_bytes);
    w.varint(runs.size());
    for (const auto& r : runs) {
      w.varint(r.length << 1 | (r.sparse ? 1 : 0));
      w.varint(r.stamp_ref);
    }
  };
}

TEST_CASE("page states: the peer and timestamp tables are sorted, unique, used, in range") {
  const std::vector<std::uint8_t> sevens(kTestPageBytes, 7);
  const std::uint64_t page = kTestPageBytes;
  auto error = [&](std::vector<std::string> peers, std::vector<StampEntry> stamps,
                   std::vector<WireRunSpec> runs) {
    return error_of_body(MessageType::page_states, page_states_body(peers, stamps, runs, sevens));
  };
  CHECK(error({"a"}, {{9, 1}}, {{page, false, 1}}) == kOk);
  CHECK(error({}, {}, {{page, false, 0}}) == kOk);
  CHECK(error({"a", "b"}, {{9, 2}, {0, 1}}, {{10, false, 1}, {page - 10, false, 2}}) ==
        errc::malformed);  // unsorted
  CHECK(error({"a", "b"}, {{9, 1}, {0, 2}}, {{10, false, 1}, {page - 10, false, 2}}) == kOk);
  CHECK(error({"a"}, {{9, 1}, {0, 1}}, {{10, false, 1}, {page - 10, false, 2}}) ==
        errc::malformed);                                                // a duplicate timestamp
  CHECK(error({"a"}, {{9, 1}}, {{page, false, 2}}) == errc::malformed);  // run ref beyond
  CHECK(error({"a", "b"}, {{9, 1}}, {{page, false, 1}}) == errc::malformed);  // unused peer
  CHECK(error({"b", "a"}, {{9, 1}}, {{page, false, 1}}) == errc::malformed);
  CHECK(error({"a", "a"}, {{9, 1}}, {{page, false, 1}}) == errc::malformed);
  CHECK(error({"a"}, {}, {{page, false, 0}}) == errc::malformed);        // unused peer
  CHECK(error({"a"}, {{9, 1}}, {{page, false, 0}}) == errc::malformed);  // unused timestamp
  CHECK(error({"a"}, {{0, 1}}, {{page, false, 1}}) == errc::malformed);  // lamport 0
  CHECK(error({"a"}, {{9, 0}}, {{page, false, 1}}) == errc::malformed);  // no peer
  CHECK(error({"a"}, {{9, 2}}, {{page, false, 1}}) == errc::malformed);  // peer ref beyond
  CHECK(error({"a"}, {{~std::uint64_t{0}, 1}, {1, 1}}, {{10, false, 1}, {page - 10, false, 2}}) ==
        errc::malformed);  // lamport overflows
}

TEST_CASE("page states: sparse runs are the only form of stretches broken by blank bytes") {
  const std::uint64_t page = kTestPageBytes;
  std::vector<std::uint8_t> gapped(kTestPageBytes, 7);
  gapped[10] = 0;  // one never-written zero byte inside data of one timestamp
  auto error = [&](std::vector<WireRunSpec> runs, const std::vector<std::uint8_t>& bytes) {
    return error_of_body(MessageType::page_states, page_states_body({"a"}, {{9, 1}}, runs, bytes));
  };
  CHECK(error({{page, true, 1}}, gapped) == kOk);
  // The same state spelled as three plain runs is not the canonical form.
  CHECK(error({{10, false, 1}, {1, false, 0}, {page - 11, false, 1}}, gapped) == errc::malformed);
  // Sparse without a zero byte, sparse with the zero timestamp, sparse starting on a blank.
  CHECK(error({{page, true, 1}}, std::vector<std::uint8_t>(kTestPageBytes, 7)) == errc::malformed);
  CHECK(error_of_body(MessageType::page_states,
                      page_states_body({}, {}, {{page, true, 0}}, gapped)) == errc::malformed);
  std::vector<std::uint8_t> leading = gapped;
  leading[0] = 0;
  CHECK(error({{page, true, 1}}, leading) == errc::malformed);
  CHECK(error({{1, false, 0}, {page - 1, true, 1}}, leading) == kOk);
  // A sparse run can stand for a page of one-byte runs: a frame may describe no more runs than
  // a sender budgets for its frame size (kVersionRunBudgetBytes each).
  std::vector<std::uint8_t> alternating(kTestPageBytes, 7);
  for (std::size_t i = 1; i < alternating.size(); i += 2) alternating[i] = 0;
  const auto one_page =
      page_states_body({"a"}, {{9, 1}}, {{page - 1, true, 1}, {1, false, 0}}, alternating);
  CHECK(error_of_body(MessageType::page_states, one_page) == kOk);
  Limits small = test_limits();
  small.max_frame_bytes = static_cast<std::uint32_t>(kTestPageBytes * kVersionRunBudgetBytes - 1);
  CHECK(error_of_body(MessageType::page_states, one_page, small) == errc::malformed);
  small.max_frame_bytes += 1;
  CHECK(error_of_body(MessageType::page_states, one_page, small) == kOk);
  // So is the timestamp table (every entry is named by a run): a table longer than the cap is
  // refused. (Such a table could never be fully named anyway; the cap's point, not observable
  // here, is that the decoder refuses it before allocating its entries.)
  Limits min_frame = test_limits();
  min_frame.max_frame_bytes = kMinMaxFrameBytes;
  const std::uint64_t cap = kMinMaxFrameBytes / kVersionRunBudgetBytes;
  CHECK(error_of_body(
            MessageType::page_states,
            [&](ByteWriter& w) {
              w.varint(1);
              write_id(w, "a");
              w.varint(cap + 1);
              for (std::uint64_t k = 0; k <= cap; ++k) {
                w.varint(1);
                w.varint(1);
              }
              w.varint(0);  // no pages
            },
            min_frame) == errc::malformed);
  // A written zero byte (timestamp a) cannot hide in a sparse run: plain runs it is.
  PageStates states;
  states.pages = {testing::sample_page(1)};
  states.pages[0].bytes = gapped;
  states.pages[0].versions = {{0, kTestPageBytes, {9, "a"}}};
  auto decoded = decode_frame(encode(states), test_limits());
  REQUIRE(decoded.ok());
  CHECK(std::get<PageStates>(decoded.value()) == states);
}

TEST_CASE("heartbeat and error: booleans are 0 or 1, error text is bounded") {
  std::vector<std::uint8_t> frame = encode(Heartbeat{1, true});
  frame.back() = 2;
  CHECK(decode_frame(frame, test_limits()).error() == errc::malformed);

  CHECK(error_of(Error{1, std::string(kMaxErrorTextBytes + 1, 'x')}) == errc::malformed);
  CHECK(error_of(Error{1, std::string("any\nbytes\0here", 14)}) == kOk);
}

}  // namespace
}  // namespace wmd::proto
