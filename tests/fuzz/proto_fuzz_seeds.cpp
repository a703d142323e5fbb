// Writes a seed corpus for proto_decoder_fuzz: one file per valid frame of every message type
// (encoded under the fuzz limits), plus one file holding all of them as a stream.
// Usage: proto_fuzz_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "proto/codec.hpp"
#include "tests/fuzz/fuzz_limits.hpp"

namespace wmd::proto {
namespace {

std::vector<Message> seed_messages() {
  Hello hello;
  hello.cluster = "wmd";
  hello.peer_id = "node-a:7411";
  hello.page_size_bytes = fuzz::kFuzzPageBytes;
  hello.size_bytes = 4096;
  hello.lamport = 9;
  hello.clock = {{"node-a:7411", 4}, {"node-b:7411", 200}};

  Patch patch;
  patch.origin = "node-b:7411";
  patch.seq = 3;
  patch.lamport = 12;
  patch.runs = {{0, 4}, {100, 8}, {5000, 2}, {fuzz::kFuzzMaxSizeBytes - 1, 1}};
  patch.bytes.assign(15, 0xab);

  Digests digests;
  digests.size_bytes = 8192;
  digests.last = true;
  digests.digests = {{0, 1}, {7, 0xdeadbeef}, {300, 5}};

  PageStates states;
  PageState page;
  page.page_index = 2;
  page.bytes.assign(fuzz::kFuzzPageBytes, 0x11);
  page.versions = {{0, 4, {0, ""}}, {4, 20, {3, "node-a"}}, {20, fuzz::kFuzzPageBytes, {4, "b"}}};
  states.pages = {page};
  page.page_index = 9;
  page.versions = {{0, fuzz::kFuzzPageBytes, {7, "node-a"}}};
  states.pages.push_back(page);
  // Fresh data over a zero page: its never-written zero bytes make the run sparse on the wire.
  page.page_index = 11;
  page.bytes[9] = 0;
  page.versions = {{0, 9, {8, "b"}}, {9, 10, {0, ""}}, {10, fuzz::kFuzzPageBytes, {8, "b"}}};
  states.pages.push_back(page);

  return {hello,  patch,          Growth{65536},        digests,
          states, CatchupDone{2}, Heartbeat{77, false}, Error{17, "cluster differs"}};
}

}  // namespace
}  // namespace wmd::proto

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::uint8_t> stream;
  int n = 0;
  for (const wmd::proto::Message& m : wmd::proto::seed_messages()) {
    const auto frame = wmd::proto::encode(m);
    stream.insert(stream.end(), frame.begin(), frame.end());
    std::ofstream(
        dir + "/seed-" + std::to_string(n++) + "-" + wmd::proto::to_string(wmd::proto::type_of(m)),
        std::ios::binary)
        .write(reinterpret_cast<const char*>(frame.data()),
               static_cast<std::streamsize>(frame.size()));
  }
  std::ofstream(dir + "/seed-stream", std::ios::binary)
      .write(reinterpret_cast<const char*>(stream.data()),
             static_cast<std::streamsize>(stream.size()));
  return 0;
}
