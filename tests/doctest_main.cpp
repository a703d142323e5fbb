// The test executables' main: doctest's, after one step every test binary needs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  // spdlog's registry is a function-local static inside libspdlog, which is not built with
  // ThreadSanitizer: TSan cannot see the guard that orders its construction, so the first
  // log calls from two test threads at once are reported as a data race. wmdd's main()
  // configures logging before it starts a thread; the tests do the same here.
  spdlog::default_logger_raw();
  return doctest::Context(argc, argv).run();
}
