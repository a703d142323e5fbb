/* life_memory: where wmd-life-host's linear memory lives: a wmd segment through libwmd, or, for
 * the solo reference run, private anonymous memory with the same guard layout.
 *
 * Both keep the base address fixed for the memory's lifetime and reserve at least
 * LIFE_MEMORY_GUARD_BYTES of address space from the base when guard_pages is set, so that
 * code translated without bounds checks faults (and traps) on any 32-bit address plus offset.
 *
 * Functions return 0 on success and -1 after printing what failed to stderr.
 * Thread-safety: one thread at a time per life_memory.
 */
#ifndef WMD_EXAMPLES_LIFE_MEMORY_H_
#define WMD_EXAMPLES_LIFE_MEMORY_H_

#include <stdbool.h>
#include <stdint.h>

/* 4 GiB of 32-bit addresses plus 4 GiB of 32-bit static offsets: what wasm2c expects. */
#define LIFE_MEMORY_GUARD_BYTES (UINT64_C(8) << 30)

struct life_memory;

struct life_memory_params {
  const char* name;        /* segment name ("/life0"), or NULL for private memory */
  uint64_t min_size_bytes; /* the memory is grown to at least this size */
  uint64_t max_size_bytes; /* maximum of a segment this call creates */
  bool guard_pages;        /* reserve LIFE_MEMORY_GUARD_BYTES from the base */
};

/* Opens the memory. *base stays valid until life_memory_close; *size_bytes is the current size. */
int life_memory_open(const struct life_memory_params* params, struct life_memory** memory,
                     uint8_t** base, uint64_t* size_bytes);
/* The largest size the memory may reach (the segment's maximum). */
uint64_t life_memory_max_size(const struct life_memory* memory);
/* Grows to at least new_size_bytes (for every process mapping the segment). */
int life_memory_grow(struct life_memory* memory, uint64_t new_size_bytes);
/* Maps growth made by other processes and returns the current size. */
int life_memory_refresh(struct life_memory* memory, uint64_t* size_bytes);
/* Asks the daemon to propagate the latest writes now (no-op for private memory). */
int life_memory_flush(struct life_memory* memory, uint32_t timeout_ms);
/* Waits until a live daemon serves the segment (immediately true for private memory); -1
 * after timeout_ms. */
int life_memory_wait_daemon(struct life_memory* memory, uint32_t timeout_ms);
/* Returns when remote changes were applied or after timeout_ms (a sleep for private memory). */
void life_memory_wait_remote(struct life_memory* memory, uint32_t timeout_ms);
void life_memory_close(struct life_memory* memory);

#endif /* WMD_EXAMPLES_LIFE_MEMORY_H_ */
