/* life_memory: private memory for the solo run, a wmd segment otherwise (see life_memory.h). */
#define _GNU_SOURCE

#include "life_memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct life_memory {
  uint8_t* base;
  uint64_t reserved_bytes;
  uint64_t size_bytes;
};

static int fail(const char* what, int error) {
  fprintf(stderr, "wmd-life-host: %s: %s\n", what, strerror(error));
  return -1;
}

static uint64_t round_up(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1u) / multiple * multiple;
}

int life_memory_open(const struct life_memory_params* params, struct life_memory** memory,
                     uint8_t** base, uint64_t* size_bytes) {
  if (params->name != NULL) {
    fprintf(stderr, "wmd-life-host: segments need libwmd\n");
    return -1;
  }
  struct life_memory* m = calloc(1, sizeof *m);
  if (m == NULL) return fail("calloc", ENOMEM);
  m->reserved_bytes = params->guard_pages && params->max_size_bytes < LIFE_MEMORY_GUARD_BYTES
                          ? LIFE_MEMORY_GUARD_BYTES
                          : round_up(params->max_size_bytes, 65536);
  void* reservation =
      mmap(NULL, m->reserved_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reservation == MAP_FAILED) {
    free(m);
    return fail("mmap(reserve)", errno);
  }
  m->base = reservation;
  if (life_memory_grow(m, params->min_size_bytes) != 0) {
    life_memory_close(m);
    return -1;
  }
  *memory = m;
  *base = m->base;
  *size_bytes = m->size_bytes;
  return 0;
}

int life_memory_grow(struct life_memory* memory, uint64_t new_size_bytes) {
  new_size_bytes = round_up(new_size_bytes, 65536);
  if (new_size_bytes <= memory->size_bytes) return 0;
  if (new_size_bytes > memory->reserved_bytes) return fail("grow", ENOMEM);
  if (mprotect(memory->base, new_size_bytes, PROT_READ | PROT_WRITE) != 0) {
    return fail("mprotect", errno);
  }
  memory->size_bytes = new_size_bytes;
  return 0;
}

int life_memory_refresh(struct life_memory* memory, uint64_t* size_bytes) {
  *size_bytes = memory->size_bytes;
  return 0;
}

int life_memory_flush(struct life_memory* memory, uint32_t timeout_ms) {
  (void)memory;
  (void)timeout_ms;
  return 0;
}

void life_memory_wait_remote(struct life_memory* memory, uint32_t timeout_ms) {
  (void)memory;
  struct timespec delay = {.tv_sec = timeout_ms / 1000u,
                           .tv_nsec = (long)(timeout_ms % 1000u) * 1000000L};
  nanosleep(&delay, NULL);
}

void life_memory_close(struct life_memory* memory) {
  if (memory == NULL) return;
  munmap(memory->base, memory->reserved_bytes);
  free(memory);
}
