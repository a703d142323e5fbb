/* wmd-life-host: runs life.wasm, translated to C by wasm2c, with its linear memory in a wmd
 * segment (zero-copy: the module's loads and stores go straight to libwmd's mapping).
 *
 *   wmd-life-host --segment /NAME --role 0 --init --generations 60 --flush
 *   wmd-life-host --solo --generations 60          (no segment: the reference run)
 *
 * Two hosts on two segments that a pair of wmdd connect take turns: generation g + 1 is
 * computed by the host whose role is g % 2, after it has seen generation g arrive whole. Both
 * print the frames they see and, at the end, the final checksum, which must equal the solo run's.
 *
 * Memory safety: the generated code is built either with bounds checks (every access compared
 * with memory->size; WMD_LIFE_BOUNDS_CHECKS) or for guard pages, where libwmd's reservation of
 * at least 8 GiB past the base makes any 32-bit address plus offset fault, and wasm-rt's signal
 * handler turns the fault into a trap. Either way an out-of-bounds access traps and never
 * touches other memory. memory.grow reaches wasm_rt_grow_memory, which the link wraps
 * (-Wl,--wrap) so that growth goes through wmd_grow.
 *
 * Thread-safety: single-threaded program.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "life_memory.h"
#include "life_wasm.h"
#include "wasm-rt-impl.h"

enum { kWasmPageBytes = 65536 };

struct options {
  const char* segment;
  bool solo;
  bool init;
  bool flush;
  bool probe_oob;
  uint32_t role;
  uint32_t generations;
  uint32_t seed;
  uint32_t render_every;
  uint32_t timeout_ms;
  const char* label;
};

/* The import object the module sees as "env": the memory comes first so that the grow hook can
 * find the whole host from the wasm_rt_memory_t* it is given. */
struct Z_env_instance_t {
  wasm_rt_memory_t memory;
  struct life_memory* backing;
};

static struct Z_env_instance_t g_env;

wasm_rt_memory_t* Z_envZ_memory(struct Z_env_instance_t* env) {
  return &env->memory;
}

uint32_t __real_wasm_rt_grow_memory(wasm_rt_memory_t* memory, uint32_t delta_pages);

/* memory.grow of the module: the segment grows (for every process that maps it) and the
 * module's view follows. The base address never moves, so nothing is copied. */
uint32_t __wrap_wasm_rt_grow_memory(wasm_rt_memory_t* memory, uint32_t delta_pages) {
  struct Z_env_instance_t* env = (struct Z_env_instance_t*)memory;
  uint32_t old_pages = memory->pages;
  uint64_t new_pages = (uint64_t)old_pages + delta_pages;
  if (new_pages > memory->max_pages) return UINT32_MAX;
  if (delta_pages == 0) return old_pages;
  if (life_memory_grow(env->backing, new_pages * kWasmPageBytes) != 0) return UINT32_MAX;
  memory->pages = (uint32_t)new_pages;
  memory->size = (uint32_t)(new_pages * kWasmPageBytes);
  return old_pages;
}

/* Follows growth another process made (a peer's memory.grow, replicated by wmdd). */
static int sync_memory_size(struct Z_env_instance_t* env) {
  uint64_t size_bytes = 0;
  if (life_memory_refresh(env->backing, &size_bytes) != 0) return -1;
  uint64_t pages = size_bytes / kWasmPageBytes;
  if (pages > env->memory.max_pages) pages = env->memory.max_pages;
  if (pages > env->memory.pages) {
    env->memory.pages = (uint32_t)pages;
    env->memory.size = (uint32_t)(pages * kWasmPageBytes);
  }
  return 0;
}

/* Calls into the module, each behind its own trap landing pad (wasm_rt_impl_try is setjmp, so it
 * must run in the frame that makes the call). A trap is reported and returned, never fatal. */
static int report_trap(const char* what, wasm_rt_trap_t trap) {
  fprintf(stderr, "wmd-life-host: %s trapped: %s\n", what, wasm_rt_strerror(trap));
  return -1;
}

static int guarded_init(Z_life_instance_t* life, uint32_t seed) {
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) return report_trap("life_init", trap);
  Z_lifeZ_life_init(life, seed);
  return 0;
}

static int guarded_step(Z_life_instance_t* life, uint32_t role) {
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) return report_trap("life_step", trap);
  Z_lifeZ_life_step(life, role);
  return 0;
}

static int guarded_ready(Z_life_instance_t* life, uint32_t generation, uint32_t* ready) {
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) return report_trap("life_ready", trap);
  *ready = Z_lifeZ_life_ready(life, generation);
  return 0;
}

static int guarded_peek(Z_life_instance_t* life, uint32_t offset, uint32_t* value) {
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) return report_trap("life_peek", trap);
  *value = Z_lifeZ_life_peek(life, offset);
  return 0;
}

static void render(Z_life_instance_t* life, const struct options* opt) {
  const uint8_t* grid = g_env.memory.data + Z_lifeZ_life_grid(life);
  uint32_t width = Z_lifeZ_life_width(life);
  uint32_t height = Z_lifeZ_life_height(life);
  printf("[%s] generation %" PRIu32 " (stepped by host %c) population %" PRIu32
         " checksum %08" PRIx32 "\n",
         opt->label, Z_lifeZ_life_generation(life), 'A' + (int)Z_lifeZ_life_last_stepper(life),
         Z_lifeZ_life_population(life), Z_lifeZ_life_checksum(life));
  for (uint32_t y = 0; y < height; ++y) {
    char line[512];
    uint32_t n = 0;
    for (uint32_t x = 0; x < width && n + 2 < sizeof line; ++x)
      line[n++] = grid[y * width + x] ? '#' : '.';
    line[n] = '\0';
    printf("[%s] %s\n", opt->label, line);
  }
  fflush(stdout);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(FILE* out) {
  fprintf(
      out,
      "usage: wmd-life-host (--segment /NAME | --solo) [options]\n"
      "  --segment /NAME     run over the wmd segment NAME (created when missing)\n"
      "  --solo              run alone in private memory (the reference result; implies --init)\n"
      "  --role 0|1          host A (0) steps even generations, host B (1) odd ones\n"
      "  --init              seed generation 0 (one host only, before the game)\n"
      "  --generations N     stop when generation N is reached (default 40)\n"
      "  --seed S            seed of generation 0 (default 2024)\n"
      "  --render-every K    print the grid every K generations (0: never; default 10)\n"
      "  --flush             wmd_flush after every step (waits for a daemon on the segment first)\n"
      "  --timeout-ms MS     give up when the game stalls this long (default 20000)\n"
      "  --label TEXT        prefix of every output line (default \"host A\"/\"host B\")\n"
      "  --probe-oob         read past the memory's end and expect a trap\n");
}

static int parse_u32(const char* text, uint32_t* out) {
  char* end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value > UINT32_MAX) return -1;
  *out = (uint32_t)value;
  return 0;
}

static int parse_options(int argc, char** argv, struct options* opt) {
  static const struct option long_options[] = {{"segment", required_argument, NULL, 's'},
                                               {"solo", no_argument, NULL, 'S'},
                                               {"role", required_argument, NULL, 'r'},
                                               {"init", no_argument, NULL, 'i'},
                                               {"generations", required_argument, NULL, 'g'},
                                               {"seed", required_argument, NULL, 'e'},
                                               {"render-every", required_argument, NULL, 'k'},
                                               {"flush", no_argument, NULL, 'f'},
                                               {"timeout-ms", required_argument, NULL, 't'},
                                               {"label", required_argument, NULL, 'l'},
                                               {"probe-oob", no_argument, NULL, 'p'},
                                               {"help", no_argument, NULL, 'h'},
                                               {NULL, 0, NULL, 0}};
  *opt = (struct options){.generations = 40, .seed = 2024, .render_every = 10, .timeout_ms = 20000};
  int c;
  while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
    int bad = 0;
    switch (c) {
      case 's':
        opt->segment = optarg;
        break;
      case 'S':
        opt->solo = true;
        break;
      case 'r':
        bad = parse_u32(optarg, &opt->role) != 0 || opt->role > 1;
        break;
      case 'i':
        opt->init = true;
        break;
      case 'g':
        bad = parse_u32(optarg, &opt->generations);
        break;
      case 'e':
        bad = parse_u32(optarg, &opt->seed);
        break;
      case 'k':
        bad = parse_u32(optarg, &opt->render_every);
        break;
      case 'f':
        opt->flush = true;
        break;
      case 't':
        bad = parse_u32(optarg, &opt->timeout_ms);
        break;
      case 'l':
        opt->label = optarg;
        break;
      case 'p':
        opt->probe_oob = true;
        break;
      case 'h':
        usage(stdout);
        exit(0);
      default:
        bad = 1;
        break;
    }
    if (bad) {
      if (c != '?') fprintf(stderr, "wmd-life-host: bad value for an option: %s\n", optarg);
      usage(stderr);
      return -1;
    }
  }
  if (optind != argc || (opt->segment == NULL) == !opt->solo) {
    usage(stderr);
    return -1;
  }
  if (opt->solo) opt->init = true;
  if (opt->label == NULL) opt->label = opt->role == 0 ? "host A" : "host B";
  return 0;
}

/* Renders generation `generation` when it is one to show; returns whether the game is over. */
static bool observe(Z_life_instance_t* life, const struct options* opt, uint32_t generation) {
  if (opt->render_every != 0 &&
      (generation % opt->render_every == 0 || generation == opt->generations)) {
    render(life, opt);
  }
  return generation >= opt->generations;
}

/* Plays the game until generation opt->generations: steps on this host's turns, waits for the
 * peer's steps otherwise (in solo mode every turn is ours). Every generation is observed once:
 * the peer's when they arrive whole, this host's own right after computing them (before the
 * flush, after which the peer's answer may already be in the memory). */
static int play(Z_life_instance_t* life, const struct options* opt) {
  uint32_t seen = UINT32_MAX; /* last generation observed */
  uint64_t last_progress_ms = now_ms();
  for (;;) {
    if (sync_memory_size(&g_env) != 0) return -1;
    uint32_t generation = Z_lifeZ_life_generation(life);
    uint32_t ready = 0;
    if (guarded_ready(life, generation, &ready) != 0) return -1;
    if (ready && generation != seen) {
      seen = generation;
      last_progress_ms = now_ms();
      if (observe(life, opt, generation)) return 0;
    }
    if (ready && (opt->solo || generation % 2u == opt->role)) {
      if (guarded_step(life, opt->role) != 0) return -1;
      seen = generation + 1u;
      bool over = observe(life, opt, seen);
      if (opt->flush && life_memory_flush(g_env.backing, opt->timeout_ms) != 0) return -1;
      if (over) return 0;
      continue;
    }
    if (now_ms() - last_progress_ms > opt->timeout_ms) {
      fprintf(stderr,
              "wmd-life-host: [%s] no progress for %" PRIu32 " ms at generation %" PRIu32 "\n",
              opt->label, opt->timeout_ms, generation);
      return -1;
    }
    life_memory_wait_remote(g_env.backing, 20);
  }
}

int main(int argc, char** argv) {
  struct options opt;
  if (parse_options(argc, argv, &opt) != 0) return 2;

  wasm_rt_init();
  Z_life_init_module();

  /* The module's import declares its limits: LIFE_MIN_PAGES initial, LIFE_MAX_PAGES maximum. */
  const struct life_memory_params params = {
      .name = opt.solo ? NULL : opt.segment,
      .min_size_bytes = (uint64_t)LIFE_MIN_PAGES * kWasmPageBytes,
      .max_size_bytes = (uint64_t)LIFE_MAX_PAGES * kWasmPageBytes,
      .guard_pages = !WMD_LIFE_BOUNDS_CHECKS,
  };
  uint8_t* base = NULL;
  uint64_t size_bytes = 0;
  if (life_memory_open(&params, &g_env.backing, &base, &size_bytes) != 0) return 1;
  g_env.memory.data = base;
  uint64_t max_pages = life_memory_max_size(g_env.backing) / kWasmPageBytes;
  g_env.memory.max_pages = max_pages < LIFE_MAX_PAGES ? (uint32_t)max_pages : LIFE_MAX_PAGES;
  g_env.memory.pages = (uint32_t)(size_bytes / kWasmPageBytes);
  if (g_env.memory.pages > g_env.memory.max_pages) g_env.memory.pages = g_env.memory.max_pages;
  if (g_env.memory.pages < LIFE_MIN_PAGES) {
    fprintf(stderr, "wmd-life-host: the memory cannot hold the module's %u pages\n",
            LIFE_MIN_PAGES);
    life_memory_close(g_env.backing);
    return 1;
  }
  g_env.memory.size = g_env.memory.pages * (uint32_t)kWasmPageBytes;

  Z_life_instance_t life;
  Z_life_instantiate(&life, &g_env);
  printf("[%s] %s: %" PRIu32 " KiB at %p, %s\n", opt.label,
         opt.solo ? "private memory" : opt.segment, g_env.memory.size / 1024,
         (void*)g_env.memory.data,
         WMD_LIFE_BOUNDS_CHECKS ? "bounds-checked accesses" : "guard-page accesses");

  int rc = 0;
  if (opt.probe_oob) {
    uint32_t value = 0;
    /* The last byte is fine; the byte after it must trap. */
    if (guarded_peek(&life, g_env.memory.size - 1u, &value) != 0) {
      rc = 1;
    } else if (guarded_peek(&life, g_env.memory.size, &value) == 0) {
      fprintf(stderr, "wmd-life-host: reading past the memory did not trap\n");
      rc = 1;
    } else {
      printf("[%s] out-of-bounds read trapped as expected\n", opt.label);
    }
  } else {
    /* Flushing needs the daemon: give one that is still starting the time to come up. */
    if (opt.flush && life_memory_wait_daemon(g_env.backing, opt.timeout_ms) != 0) rc = 1;
    if (rc == 0 && opt.init && guarded_init(&life, opt.seed) != 0) rc = 1;
    if (rc == 0 && opt.init && opt.flush && life_memory_flush(g_env.backing, opt.timeout_ms) != 0) {
      rc = 1;
    }
    if (rc == 0 && play(&life, &opt) != 0) rc = 1;
    if (rc == 0) {
      printf("[%s] final generation %" PRIu32 " checksum %08" PRIx32 " population %" PRIu32
             " memory %" PRIu32 " KiB\n",
             opt.label, Z_lifeZ_life_generation(&life), Z_lifeZ_life_checksum(&life),
             Z_lifeZ_life_population(&life), g_env.memory.size / 1024);
    }
  }

  Z_life_free(&life);
  life_memory_close(g_env.backing);
  wasm_rt_free();
  return rc;
}
