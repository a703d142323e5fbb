/* uffd_uapi.h: the kernel interfaces of wmd's kernel dirty tracking (userfaultfd write-protect
 * in async mode on the writer's side, the PAGEMAP_SCAN ioctl on the daemon's side), with the
 * constants and structures that older system headers lack (Debian 12 ships 6.1 headers; the
 * interfaces arrived in Linux 6.7). Values are the kernel's uapi ABI (linux/userfaultfd.h,
 * linux/fs.h); each is defined only when the system headers do not define it.
 *
 * The one header both libwmd (shm/uffd_writer.cpp) and wmdd (daemon/tracker/kernel/)
 * include, so the two sides can never disagree on a value.
 *
 * Thread-safety: declarations only.
 */
#ifndef WMD_UFFD_UAPI_H_
#define WMD_UFFD_UAPI_H_

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* PAGEMAP_SCAN (Linux 6.7). The structures come with the ioctl number: a header that has one
 * has the others. */
#ifndef PAGEMAP_SCAN

#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)   /* write-protect the pages that match */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail (EPERM) on ranges without async WP */

struct pm_scan_arg {
  __u64 size; /* sizeof(struct pm_scan_arg) */
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end; /* out: where the walk stopped */
  __u64 vec;      /* struct page_region array */
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)

#endif /* PAGEMAP_SCAN */

#endif /* WMD_UFFD_UAPI_H_ */
