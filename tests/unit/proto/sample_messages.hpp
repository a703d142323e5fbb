// Valid example messages of every type and the limits they are valid under, shared by the
// proto tests. Thread-safety: pure functions.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "proto/codec.hpp"

// doctest prints error codes by their message (the default path needs <ostream> operators).
template <>
struct doctest::StringMaker<std::error_code> {
  static String convert(const std::error_code& e) { return e ? e.message().c_str() : "success"; }
};

namespace wmd::proto::testing {

inline constexpr std::uint32_t kTestPageBytes = 4096;
inline constexpr std::uint64_t kTestMaxSizeBytes = std::uint64_t{1} << 30;

inline Limits test_limits() {
  Limits limits;
  limits.max_frame_bytes = kDefaultMaxFrameBytes;
  limits.page_size_bytes = kTestPageBytes;
  limits.max_size_bytes = kTestMaxSizeBytes;
  return limits;
}

inline Hello sample_hello() {
  Hello m;
  m.cluster = "prod-eu";
  m.peer_id = "node-a:7411";
  m.page_size_bytes = kTestPageBytes;
  m.size_bytes = 64 * 1024;
  m.lamport = 42;
  m.clock = {{"node-a:7411", 10}, {"node-b:7411", 3}, {"node-c:7411", 300000}};
  return m;
}

inline Patch sample_patch() {
  Patch m;
  m.origin = "node-b:7411";
  m.seq = 7;
  m.lamport = 99;
  m.runs = {{0, 3}, {3, 1}, {5000, 8}, {kTestMaxSizeBytes - 2, 2}};
  for (std::uint8_t i = 0; i < 14; ++i) m.bytes.push_back(static_cast<std::uint8_t>(i * 17 + 1));
  return m;
}

// A page whose versions mix the zero timestamp with two writers.
inline PageState sample_page(std::uint64_t index) {
  PageState page;
  page.page_index = index;
  page.bytes.resize(kTestPageBytes);
  for (std::size_t i = 0; i < page.bytes.size(); ++i) {
    page.bytes[i] = static_cast<std::uint8_t>(i * 31 + index);
  }
  page.versions = {{0, 100, {0, ""}},
                   {100, 200, {5, "node-b"}},
                   {200, 300, {7, "node-a"}},
                   {300, kTestPageBytes, {5, "node-b"}}};
  return page;
}

// Data of one timestamp written over a zero page: its zero bytes (every 64th here) were never
// written and keep the zero timestamp. On the wire, one sparse run.
inline PageState sample_sparse_page(std::uint64_t index) {
  PageState page;
  page.page_index = index;
  page.bytes.assign(kTestPageBytes, 0x5a);
  const Timestamp written{3, "node-a"};
  std::uint32_t start = 0;
  for (std::uint32_t zero = 40; zero < kTestPageBytes; zero += 64) {
    page.bytes[zero] = 0;
    page.versions.push_back({start, zero, written});
    page.versions.push_back({zero, zero + 1, {}});
    start = zero + 1;
  }
  if (start < kTestPageBytes) page.versions.push_back({start, kTestPageBytes, written});
  return page;
}

inline PageStates sample_page_states() {
  PageStates m;
  m.pages = {sample_page(0), sample_page(3), sample_sparse_page(4)};
  m.pages[1].versions = {{0, kTestPageBytes, {1, "node-c"}}};
  return m;
}

inline Digests sample_digests() {
  Digests m;
  m.size_bytes = 1 << 20;
  m.last = true;
  m.reply_requested = true;
  m.digests = {{0, 0x0123456789abcdefULL}, {1, 2}, {200, ~std::uint64_t{0}}};
  return m;
}

// One valid message of every type.
inline std::vector<Message> sample_messages() {
  return {sample_hello(),
          sample_patch(),
          Growth{1 << 24},
          sample_digests(),
          sample_page_states(),
          CatchupDone{12345},
          Heartbeat{0xfeedfacecafebeefULL, true},
          Error{static_cast<std::uint16_t>(errc::cluster_mismatch), "cluster differs: a != b"}};
}

inline std::span<const std::uint8_t> body_of(const std::vector<std::uint8_t>& frame) {
  return std::span<const std::uint8_t>(frame).subspan(kFrameHeaderBytes);
}

// Decodes one whole frame (header and body) with the given limits.
inline Result<Message> decode_frame(const std::vector<std::uint8_t>& frame, const Limits& limits) {
  if (frame.size() < kFrameHeaderBytes) return errc::truncated;
  auto header =
      decode_header(std::span<const std::uint8_t>(frame).first<kFrameHeaderBytes>(), limits);
  if (!header) return header.error();
  if (frame.size() - kFrameHeaderBytes < header->body_bytes) return errc::truncated;
  if (frame.size() - kFrameHeaderBytes > header->body_bytes) return errc::malformed;
  return decode_body(header->type, body_of(frame), limits);
}

}  // namespace wmd::proto::testing
