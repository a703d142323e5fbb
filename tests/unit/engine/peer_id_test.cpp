// PeerId: the inline peer id of a Timestamp holds what std::string held, orders like it, and
// keeps overlong text invalid without writing past its buffer.
#include "engine/peer_id.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/types.hpp"

namespace wmd {
namespace {

std::string random_text(std::mt19937& rng, std::size_t max_length) {
  std::uniform_int_distribution<std::size_t> length(0, max_length);
  std::uniform_int_distribution<int> letter('a', 'd');  // few letters: many shared prefixes
  std::string text(length(rng), ' ');
  for (char& c : text) c = static_cast<char>(letter(rng));
  return text;
}

TEST_CASE("PeerId holds ids up to kMaxPeerIdBytes exactly, without the heap") {
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, kMaxPeerIdBytes}) {
    const std::string text(n, 'x');
    const PeerId id(text);
    CHECK(id.size() == n);
    CHECK(id.view() == text);
    CHECK(id.str() == text);
    CHECK(id.empty() == (n == 0));
    CHECK(id == std::string_view(text));
    CHECK(is_valid_peer_id(id) == (n > 0));
  }
  static_assert(sizeof(PeerId) <= kMaxPeerIdBytes + 8);
}

TEST_CASE("PeerId cuts overlong text and stays invalid") {
  for (std::size_t n :
       {kMaxPeerIdBytes + 1, kMaxPeerIdBytes + 2, std::size_t{255}, std::size_t{4096}}) {
    const std::string text(n, 'y');
    PeerId id;
    id = text;
    CHECK(id.size() == kMaxPeerIdBytes + 1);
    CHECK_FALSE(is_valid_peer_id(id));
    CHECK(id.view() == std::string_view(text).substr(0, kMaxPeerIdBytes + 1));
  }
}

TEST_CASE("PeerId and Timestamp order like std::string") {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 5000; ++i) {
    const std::string a = random_text(rng, 20);
    const std::string b = random_text(rng, 20);
    const PeerId pa(a), pb(b);
    CHECK((pa == pb) == (a == b));
    CHECK((pa < pb) == (a < b));
    CHECK((pa > pb) == (a > b));
    CHECK((pa.compare(pb) < 0) == (a.compare(b) < 0));
    const Timestamp ta{7, pa}, tb{7, pb};
    CHECK((ta < tb) == (a < b));
    CHECK((Timestamp{6, pa} < Timestamp{7, pb}));
  }
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng, 8));
  std::vector<PeerId> ids(texts.begin(), texts.end());
  std::sort(texts.begin(), texts.end());
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 0; i < texts.size(); ++i) CHECK(ids[i].view() == texts[i]);
}

}  // namespace
}  // namespace wmd
