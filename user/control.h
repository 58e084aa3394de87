/* control.h - the local control socket `sockreap list` talks to. */
#ifndef SR_CONTROL_H
#define SR_CONTROL_H

#include <stddef.h>
#include <stdio.h>

#define SR_DEFAULT_CONTROL_SOCKET "/run/sockreap/control.sock"
#define SR_CONTROL_REQ_MAX 64
#define SR_CONTROL_REQUEST_MS 200 /* a client's whole request line, at most */

/*
 * Listen on a Unix socket at path, mode 0600 (list needs the daemon's own
 * privilege); a stale socket is replaced, a live one is an error. Returns a
 * non-blocking listening fd or negative errno, with a message in err.
 */
int control_listen(const char *path, char *err, size_t errlen);
void control_close(int fd, const char *path);

/*
 * Accept one pending client and read its one-line request (bounded in size
 * and time). Returns the client fd, or -1 if there was none or it was bad.
 */
int control_accept(int lfd, char *req, size_t reqlen);

/* Pass the answer, a file read from its start (a memfd), to client c: one
 * message that never waits. 0, or negative errno. */
int control_reply(int c, int body_fd);

/* How long the client waits for each part of the answer: the daemon reads
 * every tracked socket and its owner first, seconds for 100 000 of them. */
#define SR_CONTROL_CLIENT_WAIT_S 60

/* Send req to the daemon at path and copy its answer to out. 0, or negative
 * errno (-ETIMEDOUT: no answer within SR_CONTROL_CLIENT_WAIT_S). */
int control_request(const char *path, const char *req, FILE *out);

#endif
