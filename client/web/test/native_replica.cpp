// wmd-native-replica: native engines driven by a line script on stdin, printing every frame they
// produce as hex, so that a test can run the same script on the WebAssembly build and compare
// the transcripts byte for byte (client/web/test/byte_compat.test.mjs).
//
// Script (one command a line; NAME is a replica, created on first use with page size 8192,
// max size 4 MiB and 128 KiB of zeros):
//   NAME write OFFSET HEX     store bytes into the replica's memory
//   NAME grow BYTES           the memory grows to BYTES (resize)
//   NAME scan                 prints "NAME patch HEX" per patch frame of the round
//   NAME receive HEX          decodes a frame and applies (patch) or merges (page states) it;
//                             prints "NAME patch HEX" per local change absorbed first
//   NAME digests              prints "NAME digests HEX" (one Digests frame, flagged last)
//   NAME export PAGE          prints "NAME patch HEX"... then "NAME state HEX" (one page)
//   NAME hello                prints "NAME hello HEX" (cluster "compat")
//   NAME memory               prints "NAME memory HEX" (the whole memory)
// An error prints "NAME error CODE". Exits 2 on a script it cannot read.
// Each replica's memory is that of a WebAssembly memory, in whole 64 KiB pages: when a received
// frame grows the engine, the memory grows to the next whole wasm page and the engine takes that
// size, as wmd-wasm (and any host of a WebAssembly memory) does.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "proto/codec.hpp"

namespace {

constexpr std::uint32_t kPageSize = 8192;
constexpr std::uint64_t kMaxSize = 4 * 1024 * 1024;
constexpr std::uint64_t kInitialSize = 128 * 1024;
constexpr std::uint64_t kWasmPageBytes = 64 * 1024;

struct Replica {
  std::string name;
  std::vector<std::uint8_t> memory = std::vector<std::uint8_t>(kMaxSize);
  std::vector<std::uint8_t> state;
  std::unique_ptr<wmd::Engine> engine;
};

std::string hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::vector<std::uint8_t> unhex(const std::string& text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

void print(const Replica& r, const char* what, const wmd::proto::Message& message) {
  std::cout << r.name << ' ' << what << ' ' << hex(wmd::proto::encode(message)) << '\n';
}

Replica& replica(std::map<std::string, Replica>& replicas, const std::string& name) {
  auto [it, fresh] = replicas.try_emplace(name);
  Replica& r = it->second;
  if (fresh) {
    r.name = name;
    wmd::EngineConfig config;
    config.page_size_bytes = kPageSize;
    config.peer_id = name;
    config.max_size_bytes = kMaxSize;
    r.state.resize(*wmd::Engine::state_bytes_required(config));
    r.engine = std::move(wmd::Engine::create(
                             config, std::span(r.memory).first(kInitialSize), r.state,
                             [&r](std::uint64_t size) -> wmd::Result<std::span<std::uint8_t>> {
                               return std::span(r.memory).first(size);
                             }))
                   .value();
    r.engine->on_diff([&r](const wmd::Patch& patch) { print(r, "patch", patch); });
  }
  return r;
}

void error(const Replica& r, const wmd::Error& failure) {
  std::cout << r.name << " error " << failure.code().value() << '\n';
}

}  // namespace

int main() {
  std::map<std::string, Replica> replicas;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string name, command;
    if (!(in >> name >> command)) continue;
    Replica& r = replica(replicas, name);
    wmd::Engine& engine = *r.engine;
    if (command == "write") {
      std::uint64_t offset = 0;
      std::string bytes;
      in >> offset >> bytes;
      auto data = unhex(bytes);
      if (offset + data.size() > engine.size_bytes()) return 2;
      std::copy(data.begin(), data.end(), r.memory.begin() + static_cast<std::ptrdiff_t>(offset));
    } else if (command == "grow") {
      std::uint64_t size = 0;
      in >> size;
      if (auto s = engine.resize(size); !s) error(r, s.error());
    } else if (command == "scan") {
      (void)engine.scan();
    } else if (command == "receive") {
      std::string frame;
      in >> frame;
      auto bytes = unhex(frame);
      wmd::proto::Limits limits{wmd::proto::kDefaultMaxFrameBytes, kPageSize, kMaxSize};
      if (bytes.size() < wmd::proto::kFrameHeaderBytes) return 2;
      auto message = wmd::proto::decode_body(
          static_cast<wmd::proto::MessageType>(bytes[4]),
          std::span<const std::uint8_t>(bytes).subspan(wmd::proto::kFrameHeaderBytes), limits);
      if (!message) {
        error(r, message.error());
      } else if (auto* patch = std::get_if<wmd::Patch>(&*message)) {
        if (auto applied = engine.apply(*patch); !applied) error(r, applied.error());
      } else if (auto* states = std::get_if<wmd::proto::PageStates>(&*message)) {
        for (const auto& state : states->pages) {
          if (auto merged = engine.merge_page(state); !merged) error(r, merged.error());
        }
      }
      const std::uint64_t wasm_pages_size =
          (engine.size_bytes() + kWasmPageBytes - 1) / kWasmPageBytes * kWasmPageBytes;
      if (auto s = engine.resize(wasm_pages_size); !s) error(r, s.error());
    } else if (command == "digests") {
      print(r, "digests",
            wmd::proto::Digests{engine.size_bytes(), true, false, engine.nonzero_digests()});
    } else if (command == "export") {
      std::uint64_t page = 0;
      in >> page;
      auto state = engine.export_page(page);
      if (!state) {
        error(r, state.error());
      } else {
        print(r, "state", wmd::proto::page_states_of({*state}));
      }
    } else if (command == "hello") {
      print(r, "hello",
            wmd::proto::Hello{wmd::proto::kProtocolVersion, "compat", engine.peer_id(), kPageSize,
                              engine.size_bytes(), engine.lamport(), engine.vector_clock()});
    } else if (command == "memory") {
      std::cout << r.name << " memory " << hex(std::span(r.memory).first(engine.size_bytes()))
                << '\n';
    } else {
      return 2;
    }
  }
  return 0;
}
