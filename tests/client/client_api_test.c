/* libwmd's C API, tested from real C (C11). A "daemon" is simulated by a thread that follows
 * the doorbell protocol of <wmd/segment_layout.h> on its own mapping of the control object.
 * Prints every failed check and exits non-zero when any failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wmd/segment_layout.h>
#include <wmd/wmd.h>

static int failures = 0;
static const char* current_test = "";

static void expect_at(int ok, const char* what, const char* file, int line) {
  if (ok) return;
  ++failures;
  fprintf(stderr, "%s:%d: [%s] failed: %s (last error: %s)\n", file, line, current_test, what,
          wmd_last_error_text());
}
#define EXPECT(cond) expect_at((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

enum { kPage = 8192, kMax = 128 * kPage };

/* A segment name unique to this process; unlinked by cleanup(). */
static void make_name(char* out, size_t size) {
  static int counter = 0;
  snprintf(out, size, "/wmd-ctest-%d-%d", (int)getpid(), counter++);
}

static void cleanup(const char* name) {
  (void)wmd_unlink(name);
}

static wmd_segment* create(const char* name, uint64_t size) {
  wmd_options opts;
  wmd_options_init(&opts);
  opts.flags = WMD_OPEN_CREATE;
  opts.min_size_bytes = size;
  opts.max_size_bytes = kMax;
  opts.page_size_bytes = kPage;
  wmd_segment* seg = NULL;
  const int rc = wmd_open(name, &opts, &seg);
  EXPECT(rc == WMD_OK);
  return seg;
}

static wmd_segment* attach(const char* name) {
  wmd_segment* seg = NULL;
  const int rc = wmd_open(name, NULL, &seg);
  EXPECT(rc == WMD_OK);
  return seg;
}

/* The control object, mapped independently (as the daemon would). */
static wmd_ctl* map_ctl(const char* name) {
  char ctl_name[128];
  snprintf(ctl_name, sizeof ctl_name, "%s%s", name, WMD_CTL_SUFFIX);
  const int fd = shm_open(ctl_name, O_RDWR, 0);
  if (fd < 0) return NULL;
  void* memory = mmap(NULL, sizeof(wmd_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return memory == MAP_FAILED ? NULL : (wmd_ctl*)memory;
}

static void unmap_ctl(wmd_ctl* ctl) {
  munmap(ctl, sizeof(wmd_ctl));
}

static void futex_wake(uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void futex_wait_ms(uint32_t* word, uint32_t expected, long ms) {
  struct timespec timeout = {ms / 1000, (ms % 1000) * 1000000L};
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
}

static long elapsed_ms(const struct timespec* start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void test_open_create_and_write(void) {
  current_test = "open, create, write";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = NULL;
  EXPECT(wmd_open(name, NULL, &seg) == WMD_ENOENT);
  EXPECT(seg == NULL);

  seg = create(name, 4 * kPage);
  if (seg == NULL) return;
  EXPECT(wmd_base(seg) != NULL);
  EXPECT(wmd_size(seg) == 4 * kPage);
  EXPECT(wmd_max_size(seg) == kMax);
  EXPECT(wmd_page_size(seg) == kPage);
  /* Default reservation: 4 GiB + 4 GiB guard for a maximum up to 4 GiB. */
  EXPECT(wmd_reserved_size(seg) == (UINT64_C(8) << 30));

  unsigned char* bytes = wmd_base(seg);
  for (int i = 0; i < 4 * kPage; ++i) bytes[i] = (unsigned char)(i * 13 + 1);

  /* Any tool sees exactly the bytes in /dev/shm/NAME. */
  char path[128];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  struct stat st;
  EXPECT(stat(path, &st) == 0 && st.st_size == 4 * kPage);
  EXPECT((st.st_mode & 07777) == 0600);
  const int fd = open(path, O_RDONLY);
  EXPECT(fd >= 0);
  static unsigned char copy[4 * kPage];
  EXPECT(read(fd, copy, sizeof copy) == (ssize_t)sizeof copy);
  close(fd);
  EXPECT(memcmp(copy, bytes, sizeof copy) == 0);

  /* A second handle attaches with no options and sees the bytes. */
  wmd_segment* other = attach(name);
  if (other != NULL) {
    EXPECT(wmd_size(other) == 4 * kPage);
    EXPECT(wmd_page_size(other) == kPage);
    EXPECT(((unsigned char*)wmd_base(other))[77] == bytes[77]);
    wmd_close(other);
  }
  wmd_close(seg);
  cleanup(name);
}

static void test_guard_region_faults(void) {
  current_test = "guard region";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  fflush(stderr);
  const pid_t child = fork();
  if (child == 0) {
    /* The default action, even under a sanitizer that installs its own handler. */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    volatile unsigned char* past = (unsigned char*)wmd_base(seg) + wmd_size(seg) + 12345;
    *past = 1; /* must fault */
    _exit(0);
  }
  int status = 0;
  EXPECT(waitpid(child, &status, 0) == child);
  EXPECT(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));
  wmd_close(seg);
  cleanup(name);
}

static void test_grow_keeps_base(void) {
  current_test = "grow";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  unsigned char* base = wmd_base(seg);
  base[10] = 42;
  const uint64_t generation = wmd_generation(seg);

  EXPECT(wmd_grow(seg, 3 * kPage + 1) == WMD_OK); /* rounded up to 4 pages */
  EXPECT(wmd_base(seg) == base);
  EXPECT(wmd_size(seg) == 4 * kPage);
  EXPECT(wmd_generation(seg) == generation + 1);
  EXPECT(base[10] == 42);
  EXPECT(base[4 * kPage - 1] == 0);
  base[4 * kPage - 1] = 7;

  EXPECT(wmd_grow(seg, 2 * kPage) == WMD_OK); /* never shrinks */
  EXPECT(wmd_size(seg) == 4 * kPage);
  EXPECT(wmd_generation(seg) == generation + 1);

  EXPECT(wmd_grow(seg, kMax + kPage) == WMD_ETOOBIG);
  EXPECT(strstr(wmd_last_error_text(), "maximum") != NULL);
  EXPECT(wmd_size(seg) == 4 * kPage);
  wmd_close(seg);
  cleanup(name);
}

static void test_refresh_after_growth_elsewhere(void) {
  current_test = "refresh";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  unsigned char* base = wmd_base(seg);
  const uint64_t generation = wmd_generation(seg);

  /* Another process grows the segment and writes into the new pages. */
  const pid_t child = fork();
  if (child == 0) {
    wmd_segment* mine = NULL;
    if (wmd_open(name, NULL, &mine) != WMD_OK) _exit(1);
    if (wmd_grow(mine, 6 * kPage) != WMD_OK) _exit(2);
    ((unsigned char*)wmd_base(mine))[5 * kPage + 3] = 99;
    wmd_close(mine);
    _exit(0);
  }
  int status = 0;
  EXPECT(waitpid(child, &status, 0) == child);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  EXPECT(wmd_generation(seg) == generation + 1);
  EXPECT(wmd_size(seg) == kPage); /* not mapped until refreshed */
  uint64_t size = 0;
  EXPECT(wmd_refresh(seg, &size) == WMD_OK);
  EXPECT(size == 6 * kPage);
  EXPECT(wmd_size(seg) == 6 * kPage);
  EXPECT(wmd_base(seg) == base);
  EXPECT(base[5 * kPage + 3] == 99);
  EXPECT(wmd_refresh(seg, NULL) == WMD_OK); /* nothing new: fine */
  wmd_close(seg);
  cleanup(name);
}

static void test_flush_without_daemon(void) {
  current_test = "flush without daemon";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  EXPECT(wmd_flush(seg, 100) == WMD_ENODAEMON);

  /* A recorded daemon that has exited is no daemon either. */
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, NULL, 0);
  wmd_ctl* ctl = map_ctl(name);
  EXPECT(ctl != NULL);
  if (ctl != NULL) {
    __atomic_store_n(&ctl->daemon_pid, (int32_t)child, __ATOMIC_RELEASE);
    EXPECT(wmd_flush(seg, 100) == WMD_ENODAEMON);
    unmap_ctl(ctl);
  }
  wmd_close(seg);
  cleanup(name);
}

/* The simulated daemon: serves flush requests until told to stop. */
struct fake_daemon {
  wmd_ctl* ctl;
  atomic_int stop;
  atomic_int served;
  pthread_t thread;
};

static void* fake_daemon_main(void* arg) {
  struct fake_daemon* daemon = arg;
  uint32_t served_ticket = __atomic_load_n(&daemon->ctl->flush_done, __ATOMIC_ACQUIRE);
  while (!atomic_load(&daemon->stop)) {
    const uint32_t requested = __atomic_load_n(&daemon->ctl->flush_request, __ATOMIC_ACQUIRE);
    if (requested == served_ticket) {
      futex_wait_ms(&daemon->ctl->flush_request, served_ticket, 20);
      continue;
    }
    /* "Scan and queue", then publish completion. */
    __atomic_store_n(&daemon->ctl->flush_done, requested, __ATOMIC_RELEASE);
    futex_wake(&daemon->ctl->flush_done);
    served_ticket = requested;
    atomic_fetch_add(&daemon->served, 1);
  }
  return NULL;
}

static void test_flush_with_daemon(void) {
  current_test = "flush with daemon";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  struct fake_daemon daemon;
  daemon.ctl = map_ctl(name);
  EXPECT(daemon.ctl != NULL);
  if (daemon.ctl == NULL) return;
  atomic_init(&daemon.stop, 0);
  atomic_init(&daemon.served, 0);
  /* Start time 0: the pid alone identifies the daemon. */
  __atomic_store_n(&daemon.ctl->daemon_pid, (int32_t)getpid(), __ATOMIC_RELEASE);

  /* Registered as a daemon but not answering: the flush times out. */
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  EXPECT(wmd_flush(seg, 60) == WMD_ETIMEDOUT);
  EXPECT(elapsed_ms(&start) >= 60);

  pthread_create(&daemon.thread, NULL, fake_daemon_main, &daemon);
  for (int i = 0; i < 20; ++i) EXPECT(wmd_flush(seg, 5000) == WMD_OK);
  EXPECT(atomic_load(&daemon.served) >= 1);
  atomic_store(&daemon.stop, 1);
  futex_wake(&daemon.ctl->flush_request);
  pthread_join(daemon.thread, NULL);

  wmd_status_info status;
  EXPECT(wmd_status(seg, &status) == WMD_OK);
  EXPECT(status.daemon_pid == getpid());
  __atomic_store_n(&daemon.ctl->daemon_pid, 0, __ATOMIC_RELEASE);
  unmap_ctl(daemon.ctl);
  wmd_close(seg);
  cleanup(name);
}

struct waiter {
  wmd_segment* seg;
  int result;
};

static void* waiter_main(void* arg) {
  struct waiter* waiter = arg;
  waiter->result = wmd_wait(waiter->seg, 10000);
  return NULL;
}

static void test_wait(void) {
  current_test = "wait";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  wmd_ctl* ctl = map_ctl(name);
  EXPECT(ctl != NULL);
  if (ctl == NULL) return;

  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  EXPECT(wmd_wait(seg, 40) == WMD_ETIMEDOUT);
  EXPECT(elapsed_ms(&start) >= 40);

  /* Remote changes applied before the call are reported at once. */
  __atomic_add_fetch(&ctl->remote_applied, 1, __ATOMIC_ACQ_REL);
  futex_wake(&ctl->remote_applied);
  EXPECT(wmd_wait(seg, 0) == WMD_OK);
  EXPECT(wmd_wait(seg, 0) == WMD_ETIMEDOUT); /* and only once */

  /* A blocked waiter is woken by the daemon's notification. */
  struct waiter waiter = {seg, 1};
  pthread_t thread;
  pthread_create(&thread, NULL, waiter_main, &waiter);
  usleep(20000);
  __atomic_add_fetch(&ctl->remote_applied, 1, __ATOMIC_ACQ_REL);
  futex_wake(&ctl->remote_applied);
  pthread_join(thread, NULL);
  EXPECT(waiter.result == WMD_OK);
  unmap_ctl(ctl);
  wmd_close(seg);
  cleanup(name);
}

static void test_status(void) {
  current_test = "status";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, 2 * kPage);
  if (seg == NULL) return;
  wmd_status_info status;
  EXPECT(wmd_status(seg, &status) == WMD_OK);
  EXPECT(status.daemon_pid == 0);
  EXPECT(status.size_bytes == 2 * kPage);
  EXPECT(status.max_size_bytes == kMax);
  EXPECT(status.peer_count == 0);

  /* Publish as the daemon does: seq odd, fields, seq even. */
  wmd_ctl* ctl = map_ctl(name);
  EXPECT(ctl != NULL);
  if (ctl != NULL) {
    __atomic_store_n(&ctl->status.seq, 1, __ATOMIC_RELEASE);
    ctl->status.lamport = 12;
    ctl->status.errors = 3;
    strcpy(ctl->status.tracking_mode, "hash");
    strcpy(ctl->status.last_error, "peer b: connection refused");
    ctl->status.peer_count = 1;
    strcpy(ctl->status.peers[0].peer_id, "hostb:7411");
    ctl->status.peers[0].connected = 1;
    ctl->status.peers[0].rtt_us = 250;
    __atomic_store_n(&ctl->status.seq, 2, __ATOMIC_RELEASE);
    EXPECT(wmd_status(seg, &status) == WMD_OK);
    EXPECT(status.lamport == 12);
    EXPECT(status.errors == 3);
    EXPECT(strcmp(status.tracking_mode, "hash") == 0);
    EXPECT(strcmp(status.last_error, "peer b: connection refused") == 0);
    EXPECT(status.peer_count == 1);
    EXPECT(strcmp(status.peers[0].peer_id, "hostb:7411") == 0);
    EXPECT(status.peers[0].connected == 1);
    EXPECT(status.peers[0].rtt_us == 250);
    unmap_ctl(ctl);
  }
  EXPECT(wmd_status(seg, NULL) == WMD_EINVAL);
  wmd_close(seg);
  cleanup(name);
}

static void test_refusals_leave_segment_untouched(void) {
  current_test = "refusals";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  wmd_close(seg);

  /* Another page size. */
  wmd_options opts;
  wmd_options_init(&opts);
  opts.page_size_bytes = 2 * kPage;
  seg = NULL;
  EXPECT(wmd_open(name, &opts, &seg) == WMD_EPAGESIZE);
  EXPECT(seg == NULL);
  EXPECT(strstr(wmd_last_error_text(), "page size") != NULL);

  /* Wrong magic: refused, and the control object is byte-for-byte what it was. */
  wmd_ctl* ctl = map_ctl(name);
  EXPECT(ctl != NULL);
  if (ctl != NULL) {
    ctl->magic = UINT64_C(0xdeadbeef);
    static wmd_ctl before;
    memcpy(&before, ctl, sizeof before);
    opts.page_size_bytes = 0;
    opts.flags = WMD_OPEN_CREATE;
    opts.min_size_bytes = 8 * kPage;
    EXPECT(wmd_open(name, &opts, &seg) == WMD_EBADMAGIC);
    EXPECT(memcmp(&before, ctl, sizeof before) == 0);
    /* Another layout version. */
    ctl->magic = WMD_CTL_MAGIC;
    ctl->layout_version = WMD_LAYOUT_VERSION + 7;
    EXPECT(wmd_open(name, &opts, &seg) == WMD_EVERSION);
    unmap_ctl(ctl);
  }

  /* Bad arguments. */
  EXPECT(wmd_open("no-slash", NULL, &seg) == WMD_EINVAL);
  EXPECT(wmd_open(NULL, NULL, &seg) == WMD_EINVAL);
  EXPECT(wmd_open(name, NULL, NULL) == WMD_EINVAL);
  wmd_options bad;
  wmd_options_init(&bad);
  bad.flags = 0x80;
  EXPECT(wmd_open(name, &bad, &seg) == WMD_EINVAL);
  EXPECT(wmd_grow(NULL, 1) == WMD_EINVAL);
  EXPECT(wmd_flush(NULL, 1) == WMD_EINVAL);
  EXPECT(wmd_base(NULL) == NULL);
  wmd_close(NULL);
  cleanup(name);
}

static void test_foreign_writable_refused(void) {
  current_test = "foreign writable";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  wmd_close(seg);
  char path[128];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  EXPECT(chmod(path, 0666) == 0);
  seg = NULL;
  EXPECT(wmd_open(name, NULL, &seg) == WMD_EPERM);
  wmd_options opts;
  wmd_options_init(&opts);
  opts.flags = WMD_OPEN_ALLOW_FOREIGN;
  EXPECT(wmd_open(name, &opts, &seg) == WMD_OK);
  wmd_close(seg);
  cleanup(name);
}

static void test_writer_registry(void) {
  current_test = "writer registry";
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = create(name, kPage);
  if (seg == NULL) return;
  wmd_ctl* ctl = map_ctl(name);
  EXPECT(ctl != NULL);
  if (ctl == NULL) return;
  EXPECT(wmd_register_writer(seg, 0) == WMD_OK);
  int found = -1;
  for (int i = 0; i < WMD_MAX_WRITERS; ++i) {
    if (__atomic_load_n(&ctl->writers[i].pid, __ATOMIC_ACQUIRE) == getpid()) found = i;
  }
  EXPECT(found >= 0);
  if (found >= 0) {
    const wmd_ctl_writer* writer = &ctl->writers[found];
    EXPECT((writer->flags & WMD_WRITER_READY) != 0);
    EXPECT((writer->flags & WMD_WRITER_KERNEL_TRACKING) == 0);
    EXPECT(writer->address == (uint64_t)(uintptr_t)wmd_base(seg));
    EXPECT(writer->length_bytes == kPage);
    EXPECT(writer->start_time_ticks != 0);
    EXPECT(wmd_grow(seg, 3 * kPage) == WMD_OK);
    EXPECT(writer->length_bytes == 3 * kPage);
    EXPECT(wmd_unregister_writer(seg) == WMD_OK);
    EXPECT(writer->pid == 0);
    EXPECT(wmd_register_writer(seg, WMD_WRITER_KERNEL_TRACKING) == WMD_OK);
    EXPECT(wmd_register_writer(seg, 0x100) == WMD_EINVAL);
  }
  wmd_close(seg); /* unregisters */
  for (int i = 0; i < WMD_MAX_WRITERS; ++i) EXPECT(ctl->writers[i].pid == 0);
  unmap_ctl(ctl);
  cleanup(name);
}

static void test_strings(void) {
  current_test = "strings";
  EXPECT(strlen(wmd_version()) > 0);
  for (int code = WMD_EINTERNAL; code <= WMD_OK; ++code) {
    EXPECT(wmd_strerror(code) != NULL && strlen(wmd_strerror(code)) > 0);
  }
  EXPECT(strcmp(wmd_strerror(-999), "unknown wmd error code") == 0);
  EXPECT(strcmp(wmd_strerror(WMD_ENODAEMON), wmd_strerror(WMD_ETIMEDOUT)) != 0);
  char name[64];
  make_name(name, sizeof name);
  wmd_segment* seg = NULL;
  EXPECT(wmd_open(name, NULL, &seg) == WMD_ENOENT);
  EXPECT(strstr(wmd_last_error_text(), name) != NULL);
  EXPECT(wmd_unlink(name) == WMD_ENOENT);
}

int main(void) {
  test_open_create_and_write();
  test_guard_region_faults();
  test_grow_keeps_base();
  test_refresh_after_growth_elsewhere();
  test_flush_without_daemon();
  test_flush_with_daemon();
  test_wait();
  test_status();
  test_refusals_leave_segment_untouched();
  test_foreign_writable_refused();
  test_writer_registry();
  test_strings();
  if (failures != 0) {
    fprintf(stderr, "client_api_test: %d check(s) failed\n", failures);
    return 1;
  }
  printf("client_api_test: all checks passed\n");
  return 0;
}
