#include "proto/catchup_session.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <map>
#include <utility>

#include "engine/stamped_pages.hpp"

namespace wmd::proto {
namespace {

// Moves `page` of an export batch into the frame, its runs' stamps renumbered to the frame's
// table: batch entry k is frame entry frame_stamps[k] (added to the frame when first named).
void append_page(const StampedPageStates& batch, StampedPage page,
                 std::vector<std::uint32_t>& frame_stamps,
                 std::map<Timestamp, std::uint32_t>& frame_index, StampedPageStates& frame) {
  const auto first = static_cast<std::uint32_t>(frame.runs.size());
  for (std::uint32_t i = page.first_run; i < page.first_run + page.run_count; ++i) {
    StampedRun run = batch.runs[i];
    if (run.stamp != 0) {
      std::uint32_t& mapped = frame_stamps[run.stamp - 1];
      if (mapped == 0) {
        const Timestamp& ts = batch.stamps[run.stamp - 1];
        const auto [it, added] =
            frame_index.try_emplace(ts, static_cast<std::uint32_t>(frame.stamps.size()) + 1);
        if (added) frame.stamps.push_back(ts);
        mapped = it->second;
      }
      run.stamp = mapped;
    }
    frame.runs.push_back(run);
  }
  page.first_run = first;
  frame.pages.push_back(std::move(page));
}

}  // namespace

CatchupSession::CatchupSession(CatchupConfig config, CatchupSource source)
    : config_(config), source_(std::move(source)) {}

std::vector<CatchupSend> CatchupSession::request_digests(bool reply_requested) {
  if (digests_unsent_) {
    digests_again_ = true;
    digests_again_reply_ = digests_again_reply_ || reply_requested;
    return {};
  }
  digests_unsent_ = true;
  CatchupSend send;
  send.kind = CatchupSend::Kind::digests;
  const auto digests = source_.nonzero_digests();
  for (auto& chunk : chunk_digests(source_.size_bytes(), digests,
                                   digests_per_frame(config_.max_frame_bytes), reply_requested)) {
    send.messages.emplace_back(std::move(chunk));
  }
  std::vector<CatchupSend> sends;
  sends.push_back(std::move(send));
  return sends;
}

std::optional<DigestSet> CatchupSession::receive_digests(Digests chunk) {
  return incoming_digests_.add(std::move(chunk));
}

std::vector<CatchupSend> CatchupSession::start_round(const DigestSet& theirs) {
  auto pages =
      plan_pages_to_send(source_.nonzero_digests(), theirs.digests, source_.zero_page_digest());
  std::vector<CatchupSend> sends;
  if (theirs.reply_requested) sends = request_digests(/*reply_requested=*/false);
  ++round_;
  pages_.start(std::move(pages));
  if (!first_round_started_) {
    first_round_started_ = true;
    // Held-back pages go last in, first out: in page order, then.
    for (auto page = early_pages_.rbegin(); page != early_pages_.rend(); ++page) {
      if (pages_.pending(*page)) pages_.hold_back(*page);
    }
    early_pages_ = {};
  }
  done_sent_ = false;
  round_pages_sent_ = 0;
  round_bytes_sent_ = 0;
  for (int i = 0; i < config_.steps_in_flight; ++i) {
    auto step = next_step();
    if (!step) break;
    sends.push_back(std::move(*step));
  }
  return sends;
}

std::vector<CatchupSend> CatchupSession::owe_pages(const std::vector<std::uint64_t>& pages) {
  if (pages.empty()) return {};
  if (done_sent_) {  // no round running: one of the owed pages alone
    pages_.start({});
    ++round_;
    done_sent_ = false;
    round_pages_sent_ = 0;
    round_bytes_sent_ = 0;
  }
  pages_.owe(pages);
  std::vector<CatchupSend> sends;
  while (auto step = next_step()) sends.push_back(std::move(*step));
  return sends;
}

std::vector<CatchupSend> CatchupSession::written(CatchupSend::Kind kind) {
  std::vector<CatchupSend> sends;
  if (kind == CatchupSend::Kind::digests) {
    digests_unsent_ = false;
    if (!digests_again_) return sends;
    const bool reply = digests_again_reply_;
    digests_again_ = false;
    digests_again_reply_ = false;
    return request_digests(reply);
  }
  --steps_in_flight_;
  if (auto step = next_step()) sends.push_back(std::move(*step));
  return sends;
}

std::optional<CatchupSend> CatchupSession::next_step() {
  if (done_sent_ || steps_in_flight_ >= config_.steps_in_flight) return std::nullopt;
  const std::uint64_t frame_budget = config_.max_frame_bytes - kPageStatesSlackBytes;
  CatchupSend step;
  step.kind = CatchupSend::Kind::step;
  PageStates current;  // the frame being filled, in the table form
  // Its table's index (entries in the order met, sorted by finish_frame), and for the export
  // batch being added, each of the batch's entries' place in it (0: not in it yet).
  std::map<Timestamp, std::uint32_t> frame_index;
  std::vector<std::uint32_t> frame_stamps;
  const auto finish_frame = [&frame_index](PageStates& frame, CatchupSend& into) {
    if (frame.stamped.pages.empty()) return;
    sort_stamp_table(frame.stamped);
    into.messages.emplace_back(std::move(frame));
    frame = {};
    frame_index.clear();
  };
  std::uint64_t current_bytes = 0;
  std::uint64_t step_bytes = 0;
  std::vector<std::uint64_t> batch;
  while (step_bytes < config_.step_bytes) {
    // As many pages as the budget has room for, judged by the last page: with pages alike, a
    // step ends where it would page by page; pages larger than the last one (more version
    // runs) can carry it past its budget by their difference, bounded by the batch.
    const std::uint64_t room = config_.step_bytes - step_bytes;
    const std::uint64_t fit =
        page_wire_bytes_ == 0 ? 1 : (room + page_wire_bytes_ - 1) / page_wire_bytes_;
    batch.clear();
    while (batch.size() < std::min<std::uint64_t>(fit, kExportBatchPages)) {
      const auto next = pages_.next();
      if (!next) break;
      batch.push_back(*next);
    }
    if (batch.empty()) break;
    ExportBatch exported = source_.export_pages(batch);
    step.absorbing_pages.insert(step.absorbing_pages.end(), exported.absorbing_pages.begin(),
                                exported.absorbing_pages.end());
    std::move(exported.local_patches.begin(), exported.local_patches.end(),
              std::back_inserter(step.local_patches));
    StampedPageStates& states = exported.states;
    frame_stamps.assign(states.stamps.size(), 0);
    for (StampedPage& page : states.pages) {
      const std::uint64_t size = page_state_wire_bytes(states, page);
      page_wire_bytes_ = size;
      if (size > frame_budget) {
        step.oversized_pages.push_back({page.page_index, page.run_count});
        continue;
      }
      if (!current.stamped.pages.empty() && current_bytes + size > frame_budget) {
        finish_frame(current, step);
        frame_stamps.assign(states.stamps.size(), 0);
        current_bytes = 0;
      }
      current_bytes += size;
      step_bytes += size;
      round_bytes_sent_ += page.bytes.size();
      ++round_pages_sent_;
      append_page(states, std::move(page), frame_stamps, frame_index, current.stamped);
    }
  }
  finish_frame(current, step);
  std::sort(step.absorbing_pages.begin(), step.absorbing_pages.end());
  if (pages_.exhausted()) {
    done_sent_ = true;
    step.round_finished = true;
    step.messages.emplace_back(CatchupDone{round_pages_sent_});
  }
  ++steps_in_flight_;
  return step;
}

PatchCut CatchupSession::cut_live_patch(const Patch& patch, std::uint32_t page_size_bytes,
                                        Patch& kept, std::span<const std::uint64_t> carried) {
  return cut_pending_pages(
      patch, page_size_bytes,
      [this, carried](std::uint64_t page) {
        if (std::binary_search(carried.begin(), carried.end(), page)) return true;
        if (!first_round_started_ && early_pages_.size() < kMaxEarlyPages) {
          early_pages_.insert(page);
        }
        if (done_sent_ || !pages_.pending(page)) return false;
        pages_.hold_back(page);
        return true;
      },
      kept);
}

void CatchupSession::page_state_received(std::uint64_t bytes) {
  ++received_.pages;
  received_.bytes += bytes;
}

ReceivedRound CatchupSession::catchup_done_received() {
  return std::exchange(received_, {});
}

std::function<ExportBatch(std::span<const std::uint64_t>)> export_one_at_a_time(
    std::function<Result<ExportedPage>(std::uint64_t page)> export_page) {
  return [export_page = std::move(export_page)](std::span<const std::uint64_t> pages) {
    ExportBatch batch;
    std::vector<PageState> states;
    for (const std::uint64_t page : pages) {
      auto exported = export_page(page);
      if (!exported) continue;  // out of range: nothing to send
      if (!exported->local_patches.empty()) batch.absorbing_pages.push_back(page);
      std::move(exported->local_patches.begin(), exported->local_patches.end(),
                std::back_inserter(batch.local_patches));
      states.push_back(std::move(exported->state));
    }
    batch.states = to_stamped(states);
    return batch;
  };
}

}  // namespace wmd::proto
