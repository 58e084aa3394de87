/* startup.h - checks before anything is loaded; each failure names the problem and the fix. */
#ifndef SR_STARTUP_H
#define SR_STARTUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The capabilities the daemon needs are in its effective set (CAP_SYS_ADMIN
 * only with all_netns). 0, or negative errno with the missing one named in err.
 */
int startup_check_privilege(bool all_netns, char *err, size_t errlen);

/* The directory of a file the daemon replaces by rename exists and is not world-writable. */
int startup_check_file_dir(const char *opt, const char *path, char *err, size_t errlen);

/* The daemon's pid namespace (dev, inode), or 0/0 for the initial one: a
 * sidecar in a child namespace has BPF translate owners into its pids. */
void startup_own_pidns(uint64_t *dev, uint64_t *ino);

/* The daemon's own network namespace inode. */
int startup_own_netns(uint32_t *ino, char *err, size_t errlen);

#endif
