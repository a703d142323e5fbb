// CatchupSession: our side of the catch-up (anti-entropy) exchange with one peer, as a pure
// state machine beside the codec: fed the peer's decoded catch-up messages, the engine's
// answers (through CatchupSource) and the news that what it asked to send was written, it
// returns what to send next. No sockets, clocks, threads or logging: the replicator runs the
// engine calls and the I/O around it, and the tests drive it directly.
//
// The exchange (see PROTOCOL.md "Catch-up"): each side sends its digests; a side holding a
// complete digest set of the peer sends, in steps, the state of every page whose digest
// differs, then CatchupDone. Flow control:
//  * at most one set of our digests queued: a request made meanwhile is served once the queued
//    set is written, with fresher digests (a peer asking faster than it reads cannot grow our
//    send queue);
//  * at most steps_in_flight page-state steps queued, counted across rounds (a peer starting
//    round after round cannot get a batch of steps queued per request);
//  * a new round replaces the one being sent.
// A live patch on a page the round will still export is not sent to the peer as well
// (cut_live_patch): the export carries the page's bytes, and goes in the next step.
//
// Thread-safety: not thread-safe; one owner (the engine thread). CatchupSource's functions are
// called on it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "engine/engine.hpp"
#include "proto/catchup.hpp"
#include "proto/export_round.hpp"
#include "proto/message.hpp"

namespace wmd::proto {

struct CatchupConfig {
  std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  std::uint64_t step_bytes = 2ull << 20;  // page states prepared per step
  int steps_in_flight = 4;                // steps queued ahead, so the socket never waits
};

// What CatchupSource::export_pages returns for a batch of pages.
struct ExportBatch {
  // The pages exported, in the order asked; a page out of range is left out.
  StampedPageStates states;
  // Local changes the export absorbed first (to send to every peer), and the pages whose
  // export made them.
  std::vector<Patch> local_patches;
  std::vector<std::uint64_t> absorbing_pages;
};

// The engine's answers. REQUIRES: every function set.
struct CatchupSource {
  std::function<std::uint64_t()> size_bytes;
  std::function<std::uint64_t()> zero_page_digest;
  std::function<std::vector<PageDigest>()> nonzero_digests;  // sorted by page
  // Exports a batch of pages (up to kExportBatchPages, in the round's order), in the table
  // form a frame carries. Batches let the engine read them in one call.
  std::function<ExportBatch(std::span<const std::uint64_t> pages)> export_pages;
};

// The most pages the session asks export_pages for at once: 256 KiB of 8 KiB pages.
inline constexpr std::size_t kExportBatchPages = 32;

// export_pages from a function that exports one page, called once per page.
std::function<ExportBatch(std::span<const std::uint64_t>)> export_one_at_a_time(
    std::function<Result<ExportedPage>(std::uint64_t page)> export_page);

// Messages to queue to the peer together; written(kind) once the last one was written.
struct CatchupSend {
  enum class Kind { digests, step };
  Kind kind = Kind::digests;
  std::vector<Message> messages;
  // Steps only. Local changes the export absorbed first: to send to every peer.
  std::vector<Patch> local_patches;
  // Steps only. The pages whose export made local_patches, sorted: this step carries their
  // bytes to the peer (see cut_live_patch).
  std::vector<std::uint64_t> absorbing_pages;
  // Pages left out because their state does not fit a frame, with their version runs.
  struct OversizedPage {
    std::uint64_t page = 0;
    std::size_t version_runs = 0;
  };
  std::vector<OversizedPage> oversized_pages;
  bool round_finished = false;  // the last message is this round's CatchupDone
};

// The peer's round towards us, as counted until its CatchupDone.
struct ReceivedRound {
  std::uint64_t pages = 0;
  std::uint64_t bytes = 0;
};

class CatchupSession {
 public:
  CatchupSession(CatchupConfig config, CatchupSource source);

  // --- our digests --------------------------------------------------------------------------
  // Our digests for the peer (reply_requested: it should answer with its own). Empty when a
  // set is still queued: then sent once it is written.
  std::vector<CatchupSend> request_digests(bool reply_requested);

  // --- the peer's digests -------------------------------------------------------------------
  // Accumulates one Digests chunk; the whole set once the last chunk came.
  std::optional<DigestSet> receive_digests(Digests chunk);
  // Starts a round for a complete set: our digests first when the peer asked for them, then
  // the first steps of page states (replacing the round being sent).
  std::vector<CatchupSend> start_round(const DigestSet& theirs);

  // The peer missed our patches on these pages (sorted, unique: a send queue overflow dropped
  // them): their states go in the round being sent, or in a new round of just these pages,
  // each page once, with no digest exchange. Returns the steps that can start now.
  std::vector<CatchupSend> owe_pages(const std::vector<std::uint64_t>& pages);

  // A send this session returned was written; returns what follows it.
  std::vector<CatchupSend> written(CatchupSend::Kind kind);

  // A live patch (ours, about to be broadcast): what of it this peer still needs, less the
  // parts on pages this round will still export (moved ahead, into the next step) and on
  // `carried` (a step's absorbing_pages, whose states carry them). Before the first digest
  // round (no round at all: the whole patch, which the mesh holds from the peer until then, see
  // Mesh::release_patches), its pages are also noted: the first round exports those it plans
  // ahead of the rest, so a write made while the peer joins reaches it first, not at its
  // page's turn in a long round.
  PatchCut cut_live_patch(const Patch& patch, std::uint32_t page_size_bytes, Patch& kept,
                          std::span<const std::uint64_t> carried = {});
  // At most this many distinct pages are noted before the first round (more go at their turn).
  static constexpr std::size_t kMaxEarlyPages = 4096;

  // --- the peer's round towards us ----------------------------------------------------------
  void page_state_received(std::uint64_t bytes);
  // Its CatchupDone: what it sent in the round, and the count starts over.
  ReceivedRound catchup_done_received();

  // A round in either direction is moving pages.
  bool active() const noexcept { return !done_sent_ || receiving(); }
  // The peer's round towards us has brought pages and not yet its CatchupDone.
  bool receiving() const noexcept { return received_.pages > 0; }
  // Page-state bytes the peer's round has brought so far (0 once its CatchupDone came).
  std::uint64_t received_bytes() const noexcept { return received_.bytes; }
  // Our round towards the peer has not sent its CatchupDone yet.
  bool sending() const noexcept { return !done_sent_; }
  std::uint64_t round() const noexcept { return round_; }
  // The pages the round planned from the peer's digests (sorted), exported or not.
  const std::vector<std::uint64_t>& round_plan() const noexcept { return pages_.plan(); }
  std::size_t round_page_count() const noexcept {
    return pages_.planned_pages() + pages_.owed_pages();
  }
  std::uint64_t round_pages_sent() const noexcept { return round_pages_sent_; }
  std::uint64_t round_bytes_sent() const noexcept { return round_bytes_sent_; }

 private:
  std::optional<CatchupSend> next_step();

  // Constant after construction.
  CatchupConfig config_;
  CatchupSource source_;

  DigestAccumulator incoming_digests_;
  // Our digests: a set queued and not yet written, and a request that came meanwhile.
  bool digests_unsent_ = false;
  bool digests_again_ = false;
  bool digests_again_reply_ = false;
  // Our outgoing round: pages whose state the peer lacks.
  std::uint64_t round_ = 0;  // bumps when a new round replaces the old one
  ExportRound pages_;
  bool done_sent_ = true;
  int steps_in_flight_ = 0;  // queued steps (any round) not yet written
  std::uint64_t round_pages_sent_ = 0;
  std::uint64_t round_bytes_sent_ = 0;
  // The wire size of the last page exported (0: none yet): how many pages the step's budget
  // has room for, to ask for that many at once.
  std::uint64_t page_wire_bytes_ = 0;
  ReceivedRound received_;
  // Before the first round: the pages live patches touched (see cut_live_patch).
  bool first_round_started_ = false;
  std::set<std::uint64_t> early_pages_;
};

}  // namespace wmd::proto
