/* life_memory: a wmd segment through libwmd, or private memory for the solo run (see
 * life_memory.h). */
#define _GNU_SOURCE

#include "life_memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <wmd/wmd.h>

enum { kWasmPageBytes = 65536 };

struct life_memory {
  uint8_t* base;
  uint64_t reserved_bytes;
  uint64_t size_bytes;
  uint64_t max_size_bytes;
  wmd_segment* segment; /* NULL for private memory */
  uint64_t generation;  /* the segment's growth counter when last refreshed */
};

static int fail_errno(const char* what, int error) {
  fprintf(stderr, "wmd-life-host: %s: %s\n", what, strerror(error));
  return -1;
}

static int fail_wmd(const char* what, int code) {
  fprintf(stderr, "wmd-life-host: %s: %s (%s)\n", what, wmd_strerror(code), wmd_last_error_text());
  return -1;
}

static uint64_t round_up(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1u) / multiple * multiple;
}

static int open_private(const struct life_memory_params* params, struct life_memory* m) {
  m->max_size_bytes = round_up(params->max_size_bytes, kWasmPageBytes);
  m->reserved_bytes = params->guard_pages && m->max_size_bytes < LIFE_MEMORY_GUARD_BYTES
                          ? LIFE_MEMORY_GUARD_BYTES
                          : m->max_size_bytes;
  void* reservation =
      mmap(NULL, m->reserved_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reservation == MAP_FAILED) return fail_errno("mmap(reserve)", errno);
  m->base = reservation;
  return life_memory_grow(m, params->min_size_bytes);
}

static int open_segment(const struct life_memory_params* params, struct life_memory* m) {
  wmd_options options;
  wmd_options_init(&options);
  options.flags = WMD_OPEN_CREATE;
  options.min_size_bytes = params->min_size_bytes;
  options.max_size_bytes = params->max_size_bytes;
  int rc = wmd_open(params->name, &options, &m->segment);
  if (rc != WMD_OK) return fail_wmd(params->name, rc);
  m->base = wmd_base(m->segment);
  m->reserved_bytes = wmd_reserved_size(m->segment);
  m->size_bytes = wmd_size(m->segment);
  m->max_size_bytes = wmd_max_size(m->segment);
  m->generation = wmd_generation(m->segment);
  /* Without bounds checks, every 32-bit address plus offset must land in the reservation. */
  if (params->guard_pages && m->reserved_bytes < LIFE_MEMORY_GUARD_BYTES) {
    fprintf(stderr,
            "wmd-life-host: %s: only %llu bytes of address space reserved, guard pages need %llu\n",
            params->name, (unsigned long long)m->reserved_bytes,
            (unsigned long long)LIFE_MEMORY_GUARD_BYTES);
    return -1;
  }
  /* Tell the daemon who writes, asking for kernel dirty tracking of this mapping (libwmd falls
   * back to a plain registration where the kernel cannot); not fatal: the daemon's hash scan
   * finds the writes anyway. */
  rc = wmd_register_writer(m->segment, WMD_WRITER_KERNEL_TRACKING);
  if (rc != WMD_OK) fail_wmd("registering as a writer (continuing)", rc);
  return 0;
}

int life_memory_open(const struct life_memory_params* params, struct life_memory** memory,
                     uint8_t** base, uint64_t* size_bytes) {
  struct life_memory* m = calloc(1, sizeof *m);
  if (m == NULL) return fail_errno("calloc", ENOMEM);
  int rc = params->name == NULL ? open_private(params, m) : open_segment(params, m);
  if (rc != 0) {
    life_memory_close(m);
    return -1;
  }
  *memory = m;
  *base = m->base;
  *size_bytes = m->size_bytes;
  return 0;
}

uint64_t life_memory_max_size(const struct life_memory* memory) {
  return memory->max_size_bytes;
}

int life_memory_grow(struct life_memory* memory, uint64_t new_size_bytes) {
  new_size_bytes = round_up(new_size_bytes, kWasmPageBytes);
  if (new_size_bytes <= memory->size_bytes) return 0;
  if (memory->segment != NULL) {
    int rc = wmd_grow(memory->segment, new_size_bytes);
    if (rc != WMD_OK) return fail_wmd("wmd_grow", rc);
    memory->size_bytes = wmd_size(memory->segment);
    memory->generation = wmd_generation(memory->segment);
    return 0;
  }
  if (new_size_bytes > memory->max_size_bytes) return fail_errno("grow", ENOMEM);
  if (mprotect(memory->base, new_size_bytes, PROT_READ | PROT_WRITE) != 0) {
    return fail_errno("mprotect", errno);
  }
  memory->size_bytes = new_size_bytes;
  return 0;
}

int life_memory_refresh(struct life_memory* memory, uint64_t* size_bytes) {
  if (memory->segment != NULL && wmd_generation(memory->segment) != memory->generation) {
    memory->generation = wmd_generation(memory->segment);
    int rc = wmd_refresh(memory->segment, &memory->size_bytes);
    if (rc != WMD_OK) return fail_wmd("wmd_refresh", rc);
  }
  *size_bytes = memory->size_bytes;
  return 0;
}

int life_memory_flush(struct life_memory* memory, uint32_t timeout_ms) {
  if (memory->segment == NULL) return 0;
  int rc = wmd_flush(memory->segment, timeout_ms);
  return rc == WMD_OK ? 0 : fail_wmd("wmd_flush", rc);
}

int life_memory_wait_daemon(struct life_memory* memory, uint32_t timeout_ms) {
  if (memory->segment == NULL) return 0;
  for (uint32_t waited_ms = 0;; waited_ms += 10) {
    wmd_status_info status;
    if (wmd_status(memory->segment, &status) == WMD_OK && status.daemon_pid != 0) return 0;
    if (waited_ms >= timeout_ms) break;
    struct timespec delay = {.tv_sec = 0, .tv_nsec = 10L * 1000000L};
    nanosleep(&delay, NULL);
  }
  fprintf(stderr, "wmd-life-host: no daemon serves the segment after %u ms\n", timeout_ms);
  return -1;
}

void life_memory_wait_remote(struct life_memory* memory, uint32_t timeout_ms) {
  if (memory->segment != NULL) {
    (void)wmd_wait(memory->segment, timeout_ms); /* a timeout is an ordinary outcome here */
    return;
  }
  struct timespec delay = {.tv_sec = timeout_ms / 1000u,
                           .tv_nsec = (long)(timeout_ms % 1000u) * 1000000L};
  nanosleep(&delay, NULL);
}

void life_memory_close(struct life_memory* memory) {
  if (memory == NULL) return;
  if (memory->segment != NULL) {
    wmd_close(memory->segment);
  } else if (memory->base != NULL) {
    munmap(memory->base, memory->reserved_bytes);
  }
  free(memory);
}
