/* wmd-test-writer: a writer process for the integration tests, driven line by line on stdin.
 * It attaches to a segment through libwmd, registers as a writer (with kernel dirty tracking
 * unless told otherwise), then runs commands:
 *   w OFFSET LENGTH BYTE   fill [OFFSET, OFFSET+LENGTH) of the mapping with BYTE (decimal)
 *   f                      wmd_flush (5 s timeout)
 *   q                      exit (end of input too)
 * Each command is answered by one line, "ok ..." or "error ...", so the test knows when it was
 * done. Usage: wmd-test-writer SEGMENT [kernel|plain|none]. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wmd/wmd.h>

static int answer(const char* text, int code) {
  if (code == WMD_OK) {
    printf("ok %s\n", text);
  } else {
    printf("error %s: %s (%s)\n", text, wmd_strerror(code), wmd_last_error_text());
  }
  fflush(stdout);
  return code;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s SEGMENT [kernel|plain|none]\n", argv[0]);
    return 2;
  }
  const char* registration = argc == 3 ? argv[2] : "kernel";
  wmd_segment* seg = NULL;
  int rc = wmd_open(argv[1], NULL, &seg);
  if (rc != WMD_OK) {
    fprintf(stderr, "wmd_open %s: %s (%s)\n", argv[1], wmd_strerror(rc), wmd_last_error_text());
    return 1;
  }
  if (strcmp(registration, "none") != 0) {
    const uint32_t flags = strcmp(registration, "kernel") == 0 ? WMD_WRITER_KERNEL_TRACKING : 0;
    rc = wmd_register_writer(seg, flags);
    if (rc != WMD_OK) {
      fprintf(stderr, "wmd_register_writer: %s (%s)\n", wmd_strerror(rc), wmd_last_error_text());
      wmd_close(seg);
      return 1;
    }
  }
  char started[64];
  snprintf(started, sizeof started, "pid %d size %llu", (int)getpid(),
           (unsigned long long)wmd_size(seg));
  answer(started, WMD_OK);

  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    unsigned long long offset = 0, length = 0;
    unsigned value = 0;
    if (line[0] == 'q') break;
    if (line[0] == 'f') {
      answer("flush", wmd_flush(seg, 5000));
    } else if (sscanf(line, "w %llu %llu %u", &offset, &length, &value) == 3) {
      if (offset + length > wmd_size(seg) || value > 255) {
        answer("write out of range", WMD_EINVAL);
        continue;
      }
      memset((uint8_t*)wmd_base(seg) + offset, (int)value, (size_t)length);
      answer("write", WMD_OK);
    } else {
      answer("unknown command", WMD_EINVAL);
    }
  }
  wmd_close(seg);
  return 0;
}
