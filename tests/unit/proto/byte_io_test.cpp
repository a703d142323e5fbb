#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "proto/byte_io.hpp"

namespace wmd::proto {
namespace {

TEST_CASE("fixed-width integers are little-endian") {
  std::vector<std::uint8_t> out;
  ByteWriter w(out);
  w.u16(0x0102);
  w.u32(0x03040506);
  w.u64(0x0708090a0b0c0d0eULL);
  CHECK(out == std::vector<std::uint8_t>{0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0e, 0x0d, 0x0c, 0x0b,
                                         0x0a, 0x09, 0x08, 0x07});
  ByteReader r(out);
  CHECK(r.u16() == 0x0102);
  CHECK(r.u32() == 0x03040506);
  CHECK(r.u64() == 0x0708090a0b0c0d0eULL);
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
}

TEST_CASE("varints round trip at every width and report their size") {
  std::vector<std::uint64_t> values = {0, 1, 127, 128, 255, 300, 16383, 16384, ~std::uint64_t{0}};
  for (int bit = 0; bit < 64; ++bit) {
    values.push_back(std::uint64_t{1} << bit);
    values.push_back((std::uint64_t{1} << bit) - 1);
  }
  for (std::uint64_t v : values) {
    std::vector<std::uint8_t> out;
    ByteWriter(out).varint(v);
    CAPTURE(v);
    CHECK(out.size() == varint_size(v));
    ByteReader r(out);
    CHECK(r.varint() == v);
    CHECK(r.ok());
    CHECK(r.remaining() == 0);
  }
  CHECK(varint_size(127) == 1);
  CHECK(varint_size(128) == 2);
  CHECK(varint_size(~std::uint64_t{0}) == 10);
}

TEST_CASE("a varint cut short is truncated") {
  const std::vector<std::uint8_t> bytes = {0x80, 0x80};
  ByteReader r(bytes);
  CHECK(r.varint() == 0);
  CHECK(r.error() == errc::truncated);
}

TEST_CASE("a varint with a redundant zero group is malformed") {
  const std::vector<std::uint8_t> bytes = {0x81, 0x00};
  ByteReader r(bytes);
  r.varint();
  CHECK(r.error() == errc::malformed);
}

TEST_CASE("a varint wider than 64 bits is malformed") {
  std::vector<std::uint8_t> eleven(10, 0xff);
  eleven.push_back(0x01);
  ByteReader r1(eleven);
  r1.varint();
  CHECK(r1.error() == errc::malformed);

  std::vector<std::uint8_t> bit64(9, 0xff);
  bit64.push_back(0x02);  // bit 64 set
  ByteReader r2(bit64);
  r2.varint();
  CHECK(r2.error() == errc::malformed);
}

TEST_CASE("the first reader error is sticky and later reads return zero") {
  const std::vector<std::uint8_t> bytes = {0x01, 0x02, 0x03};
  ByteReader r(bytes);
  CHECK(r.u32() == 0);
  CHECK(r.error() == errc::truncated);
  CHECK(r.u8() == 0);
  CHECK(r.bytes(1).empty());
  r.fail(errc::malformed);
  CHECK(r.error() == errc::truncated);
}

TEST_CASE("can_hold refuses a count that the remaining bytes cannot hold") {
  const std::vector<std::uint8_t> bytes(30, 0);
  ByteReader r(bytes);
  CHECK(r.can_hold(10, 3));
  CHECK(r.ok());
  CHECK_FALSE(r.can_hold(11, 3));
  CHECK(r.error() == errc::truncated);
  ByteReader huge(bytes);
  CHECK_FALSE(huge.can_hold(~std::uint64_t{0}, 1));
}

}  // namespace
}  // namespace wmd::proto
