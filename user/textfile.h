/* textfile.h - write a file that others read (the node_exporter textfile
 * collector's .prom): whole or not at all, and safely in a shared directory. */
#ifndef SR_TEXTFILE_H
#define SR_TEXTFILE_H

#include <stddef.h>

/*
 * Replace path with len bytes of buf atomically: a new temporary file in
 * the same directory, with a name nobody can guess, created exclusively
 * (never a file, link or FIFO someone planted), then renamed over path.
 * 0, or negative errno (nothing is left behind then).
 */
int textfile_write(const char *path, const char *buf, size_t len);

#endif
