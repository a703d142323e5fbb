// Property: a live patch held back from a peer whose catch-up round will still export the
// pages it touches (CatchupSession::cut_live_patch, as Replicator::broadcast_patches uses it)
// costs no convergence. Two engines, a writer A and a joiner B, A's CatchupSession towards B
// over A's engine, and random interleavings of A's writes and scans, written steps,
// deliveries, B's own writes and rounds replaced by new ones; once writes stop and the last
// round and messages are through, A and B are identical, with no further round. And within a
// round, no live patch byte reaches B on a page before that page's export, nor the changes
// an export absorbed after it.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <variant>

#include "proto/catchup_session.hpp"
#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd {
namespace {

using test::Replica;

constexpr std::uint32_t kPage = 4096;
constexpr std::uint64_t kPages = 24;

EngineConfig config(const std::string& peer) {
  EngineConfig c = test::small_config(peer, kPages * kPage);
  c.version_pool_blocks = 8192;
  return c;
}

void random_write(Replica& r, std::mt19937_64& rng) {
  const std::uint64_t offset = rng() % (kPages * kPage - 64);
  std::vector<std::uint8_t> bytes(1 + rng() % (rng() % 4 == 0 ? 3 * kPage : 64));
  bytes.resize(std::min<std::uint64_t>(bytes.size(), kPages * kPage - offset));
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  r.write(offset, bytes);
}

// How the round exports a page: absorbing its pending local changes first (the Node addon's
// way), or as replicated so far (wmdd's: the next scan sends the changes).
enum class Export { absorbing, replicated };

proto::CatchupSource source_of(Engine& engine, Export how) {
  proto::CatchupSource s;
  s.size_bytes = [&engine] { return engine.size_bytes(); };
  s.zero_page_digest = [&engine] { return engine.zero_page_digest(); };
  s.nonzero_digests = [&engine] { return engine.nonzero_digests(); };
  if (how == Export::absorbing) {
    s.export_pages = proto::export_one_at_a_time(
        [&engine](std::uint64_t page) { return engine.export_page_and_patches(page); });
  } else {
    s.export_pages = [&engine](std::span<const std::uint64_t> pages) {
      return proto::ExportBatch{engine.replicated_stamped_states(pages), {}, {}};
    };
  }
  return s;
}

// A's side of its session to B, as the Replicator runs it: the session and the wire.
struct SessionToB {
  SessionToB(Replica& writer, Replica& joiner, Export how)
      : a(writer),
        b(joiner),
        session{proto::CatchupConfig{1u << 20, kPage, 2}, source_of(*a.engine, how)} {}
  Replica& a;
  Replica& b;
  // Steps of one page, two in flight.
  proto::CatchupSession session;
  std::deque<proto::CatchupSend::Kind> unwritten;
  std::deque<std::variant<Patch, PageState>> wire;
  std::vector<std::uint64_t> last_live_step = std::vector<std::uint64_t>(kPages, 0);
  std::uint64_t step = 1;
  std::uint64_t round_started_step = 0;
  bool done = true;                             // the round's CatchupDone was queued
  std::vector<std::uint64_t> exported_in_send;  // pages whose states the send being queued holds

  void send_live(const Patch& patch, std::span<const std::uint64_t> carried = {}) {
    Patch kept;
    const Patch* to_send = &patch;
    switch (session.cut_live_patch(patch, kPage, kept, carried)) {
      case proto::PatchCut::whole:
        break;
      case proto::PatchCut::part:
        to_send = &kept;
        break;
      case proto::PatchCut::none:
        return;
    }
    for (const Run& run : to_send->runs) {
      for (std::uint64_t p = run.offset / kPage; p <= (run.offset + run.length - 1) / kPage; ++p) {
        last_live_step[p] = step;
        // Nor after it: the changes an export absorbed travel in its state only.
        CHECK(std::find(exported_in_send.begin(), exported_in_send.end(), p) ==
              exported_in_send.end());
      }
    }
    wire.push_back(*to_send);
  }
  void queue(std::vector<proto::CatchupSend> sends) {
    for (auto& send : sends) {
      for (const auto& message : send.messages) {
        const auto* states = std::get_if<proto::PageStates>(&message);
        if (!states) continue;
        for (const PageState& state : proto::all_page_states(*states)) {
          // The property the rule is for: the page's bytes did not also travel live this round.
          CHECK(last_live_step[state.page_index] < round_started_step);
          exported_in_send.push_back(state.page_index);
          wire.push_back(state);
        }
      }
      for (const Patch& patch : send.local_patches) send_live(patch, send.absorbing_pages);
      exported_in_send.clear();
      if (send.round_finished) done = true;
      unwritten.push_back(send.kind);
    }
  }
  void start_round() {
    proto::DigestSet theirs;
    theirs.size_bytes = b.engine->size_bytes();
    theirs.digests = b.engine->nonzero_digests();
    round_started_step = ++step;
    done = false;
    queue(session.start_round(theirs));
  }
  void write_one(std::size_t count) {
    for (; count > 0 && !unwritten.empty(); --count) {
      const auto kind = unwritten.front();
      unwritten.pop_front();
      queue(session.written(kind));
    }
  }
  void scan_a() {
    for (const Patch& patch : a.engine->scan()) send_live(patch);
  }
};

// Delivers up to `count` messages to B; B's local patches (absorbed first) go to `to_a`.
void deliver(Replica& b, SessionToB& s, std::size_t count, std::deque<Patch>& to_a) {
  for (; count > 0 && !s.wire.empty(); --count) {
    auto message = std::move(s.wire.front());
    s.wire.pop_front();
    std::vector<Patch> local;
    if (auto* patch = std::get_if<Patch>(&message)) {
      auto applied = b.engine->apply(*patch);
      REQUIRE(applied.ok());
      local = std::move(applied->local_patches);
    } else {
      auto merged = b.engine->merge_page(std::get<PageState>(message));
      REQUIRE(merged.ok());
      local = std::move(merged->local_patches);
    }
    to_a.insert(to_a.end(), local.begin(), local.end());
  }
}

// A applies B's patches; A's local changes absorbed first go to B live.
void apply_at_a(Replica& a, SessionToB& s, std::deque<Patch>& to_a) {
  while (!to_a.empty()) {
    auto applied = a.engine->apply(to_a.front());
    REQUIRE(applied.ok());
    to_a.pop_front();
    for (const Patch& patch : applied->local_patches) s.send_live(patch);
  }
}

TEST_CASE("patches held back for a catching-up peer's pending pages still converge") {
  for (std::uint64_t seed = 1; seed <= 600; ++seed) {
    const Export how = seed % 2 == 0 ? Export::absorbing : Export::replicated;
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Replica a(config("a"), kPages * kPage);
    Replica b(config("b"), kPages * kPage);
    for (int i = 0; i < 8; ++i) random_write(a, rng);
    a.engine->scan();  // before B exists: nobody hears these patches
    SessionToB s(a, b, how);
    std::deque<Patch> to_a;
    s.start_round();
    for (int action = 0; action < 120; ++action) {
      ++s.step;
      switch (rng() % 8) {
        case 0:
        case 1:
          random_write(a, rng);
          break;
        case 2:
          s.scan_a();
          break;
        case 3:
        case 4:
          s.write_one(1 + rng() % 2);
          break;
        case 5:
          deliver(b, s, 1 + rng() % 4, to_a);
          break;
        case 6:
          if (rng() % 3 == 0) {
            random_write(b, rng);
            for (const Patch& patch : b.engine->scan()) to_a.push_back(patch);
          }
          apply_at_a(a, s, to_a);
          break;
        case 7:
          if (rng() % 4 == 0) s.start_round();  // a newer digest set replaces the round
          break;
      }
    }
    // Writes stop: last scans, the round runs out, everything is delivered, no new round.
    s.scan_a();
    for (const Patch& patch : b.engine->scan()) to_a.push_back(patch);
    while (!s.done || !s.unwritten.empty() || !s.wire.empty() || !to_a.empty()) {
      s.write_one(s.unwritten.size());
      deliver(b, s, s.wire.size(), to_a);
      apply_at_a(a, s, to_a);
    }
    REQUIRE(a.contents() == b.contents());
    for (std::uint64_t page = 0; page < kPages; ++page) {
      REQUIRE(a.engine->page_digest(page) == b.engine->page_digest(page));
    }
  }
}

}  // namespace
}  // namespace wmd
