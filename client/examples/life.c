// life.wasm: Conway's Game of Life in a WebAssembly linear memory that two hosts share.
//
// Compiled with clang --target=wasm32 -nostdlib -Wl,--no-entry -Wl,--import-memory: the module
// owns no memory of its own and writes nothing at instantiation (no data segments), so
// instantiating it over a memory that already holds a game leaves that game intact. Every
// byte of the game lives at a fixed offset, so any process that maps the segment can read it.
//
// Layout (offsets in bytes):
//   [0, 64 KiB)          the module's stack (nothing else lives there)
//   [64 KiB, +sizeof)    struct life_state: two grids, then the header fields
//   [128 KiB, ...)       history: slot g holds the grid of generation g; the module grows the
//                        memory (memory.grow) when the next slot does not fit
//
// Turn taking: generation g + 1 is computed by the host whose role equals g % 2. A host may
// step only when life_ready(g) says the grid of generation g arrived whole (its checksum
// matches), which makes the game immune to seeing a half-replicated step.

#include <stdint.h>

#define LIFE_WIDTH 64u
#define LIFE_HEIGHT 24u
#define LIFE_CELLS (LIFE_WIDTH * LIFE_HEIGHT)
#define LIFE_MAGIC 0x3146494cu  // "LIF1"
#define WASM_PAGE_BYTES 65536u
#define STATE_OFFSET 65536u
#define HISTORY_OFFSET 131072u

// The header fields come after the grids, so that a replica applying a patch in offset order
// writes the grid before the generation that announces it.
struct life_state {
  uint8_t grids[2][LIFE_CELLS];  // generation g lives in grids[g % 2]; 1 = alive
  uint32_t magic;
  uint32_t width;
  uint32_t height;
  uint32_t generation;
  uint32_t checksum;    // of grids[generation % 2]
  uint32_t population;  // live cells in grids[generation % 2]
  uint32_t history_count;
  uint32_t last_stepper;  // role of the host that produced this generation (0 or 1)
};

#define STATE ((volatile struct life_state*)STATE_OFFSET)

#define EXPORT(name) __attribute__((export_name(#name)))

static uint32_t grid_checksum(const volatile uint8_t* grid) {
  // FNV-1a over the cells: cheap and order sensitive.
  uint32_t hash = 2166136261u;
  for (uint32_t i = 0; i < LIFE_CELLS; ++i) {
    hash ^= grid[i];
    hash *= 16777619u;
  }
  return hash;
}

static uint32_t grid_population(const volatile uint8_t* grid) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < LIFE_CELLS; ++i) count += grid[i];
  return count;
}

// Keeps a copy of generation `generation`'s grid in history slot `generation`, growing the
// memory by whole wasm pages when the slot does not fit. The slot depends only on the
// generation, so two hosts never race for a shared counter. Returns 0 when the memory cannot
// grow (history stops, the game goes on).
static int record_history(uint32_t generation) {
  volatile struct life_state* s = STATE;
  if (generation >= (0xffffffffu - HISTORY_OFFSET) / LIFE_CELLS - 1u) return 0;
  uint32_t end = HISTORY_OFFSET + (generation + 1u) * LIFE_CELLS;
  uint32_t size = (uint32_t)__builtin_wasm_memory_size(0) * WASM_PAGE_BYTES;
  if (end > size) {
    uint32_t missing_pages = (end - size + WASM_PAGE_BYTES - 1u) / WASM_PAGE_BYTES;
    if (__builtin_wasm_memory_grow(0, missing_pages) == (__SIZE_TYPE__)-1) return 0;
  }
  volatile uint8_t* dst = (volatile uint8_t*)(HISTORY_OFFSET + generation * LIFE_CELLS);
  const volatile uint8_t* src = s->grids[generation % 2u];
  for (uint32_t i = 0; i < LIFE_CELLS; ++i) dst[i] = src[i];
  return 1;
}

// Announces generation `generation` (whose grid is complete): history first, the generation
// number last.
static void publish(uint32_t generation, uint32_t stepper) {
  volatile struct life_state* s = STATE;
  const volatile uint8_t* grid = s->grids[generation % 2u];
  if (record_history(generation)) s->history_count = generation + 1u;
  s->checksum = grid_checksum(grid);
  s->population = grid_population(grid);
  s->last_stepper = stepper;
  s->generation = generation;
}

// Seeds generation 0 from a deterministic pseudo-random fill (about one cell in four alive)
// plus a glider, and stamps the header. Overwrites any game in progress.
EXPORT(life_init) void life_init(uint32_t seed) {
  volatile struct life_state* s = STATE;
  uint32_t x = seed ? seed : 1u;
  for (uint32_t i = 0; i < LIFE_CELLS; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->grids[0][i] = (uint8_t)((x & 3u) == 0u);
    s->grids[1][i] = 0;
  }
  // A glider in the top-left corner, written cell by cell: a table would be a data segment.
  s->grids[0][0 * LIFE_WIDTH + 1] = 1;
  s->grids[0][1 * LIFE_WIDTH + 2] = 1;
  s->grids[0][2 * LIFE_WIDTH + 0] = 1;
  s->grids[0][2 * LIFE_WIDTH + 1] = 1;
  s->grids[0][2 * LIFE_WIDTH + 2] = 1;
  s->width = LIFE_WIDTH;
  s->height = LIFE_HEIGHT;
  s->history_count = 0;
  publish(0, 0);
  s->magic = LIFE_MAGIC;
}

// 1 when the memory holds generation `generation` whole (header and checksum agree).
EXPORT(life_ready) uint32_t life_ready(uint32_t generation) {
  volatile struct life_state* s = STATE;
  if (s->magic != LIFE_MAGIC || s->generation != generation) return 0;
  return grid_checksum(s->grids[generation % 2u]) == s->checksum ? 1u : 0u;
}

// Computes the next generation on a torus, publishes it as `role`'s step and returns the new
// generation number.
EXPORT(life_step) uint32_t life_step(uint32_t role) {
  volatile struct life_state* s = STATE;
  uint32_t g = s->generation;
  const volatile uint8_t* cur = s->grids[g % 2u];
  volatile uint8_t* next = s->grids[(g + 1u) % 2u];
  for (uint32_t y = 0; y < LIFE_HEIGHT; ++y) {
    uint32_t up = (y + LIFE_HEIGHT - 1u) % LIFE_HEIGHT;
    uint32_t down = (y + 1u) % LIFE_HEIGHT;
    for (uint32_t x = 0; x < LIFE_WIDTH; ++x) {
      uint32_t left = (x + LIFE_WIDTH - 1u) % LIFE_WIDTH;
      uint32_t right = (x + 1u) % LIFE_WIDTH;
      uint32_t n = cur[up * LIFE_WIDTH + left] + cur[up * LIFE_WIDTH + x] +
                   cur[up * LIFE_WIDTH + right] + cur[y * LIFE_WIDTH + left] +
                   cur[y * LIFE_WIDTH + right] + cur[down * LIFE_WIDTH + left] +
                   cur[down * LIFE_WIDTH + x] + cur[down * LIFE_WIDTH + right];
      uint8_t alive = cur[y * LIFE_WIDTH + x];
      next[y * LIFE_WIDTH + x] = (uint8_t)(n == 3u || (alive && n == 2u));
    }
  }
  publish(g + 1u, role);
  return g + 1u;
}

EXPORT(life_generation) uint32_t life_generation(void) {
  return STATE->generation;
}
EXPORT(life_checksum) uint32_t life_checksum(void) {
  return STATE->checksum;
}
EXPORT(life_population) uint32_t life_population(void) {
  return STATE->population;
}
EXPORT(life_last_stepper) uint32_t life_last_stepper(void) {
  return STATE->last_stepper;
}
EXPORT(life_history_count) uint32_t life_history_count(void) {
  return STATE->history_count;
}
EXPORT(life_width) uint32_t life_width(void) {
  return LIFE_WIDTH;
}
EXPORT(life_height) uint32_t life_height(void) {
  return LIFE_HEIGHT;
}
// Offset of the current generation's grid (LIFE_WIDTH * LIFE_HEIGHT bytes, row-major).
EXPORT(life_grid) uint32_t life_grid(void) {
  return (uint32_t)(uintptr_t)STATE->grids[STATE->generation % 2u];
}
// Reads the byte at `offset`: lets a host check that an access past the memory traps instead
// of reaching other memory.
EXPORT(life_peek) uint32_t life_peek(uint32_t offset) {
  return *(volatile uint8_t*)(uintptr_t)offset;
}
