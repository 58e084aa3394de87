/* format.h - pure text helpers: addresses, socket links, durations. */
#ifndef SR_FORMAT_H
#define SR_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORMAT_ADDR_LEN 64 /* "[ffff:...:ffff]:65535" fits */

/* "1.2.3.4:80" or "[::1]:80"; addr in network byte order as in struct sr_sock. */
void format_addr(char *buf, size_t len, uint16_t family, const uint32_t addr[4], uint16_t port);

/* Parse a /proc/PID/fd link target "socket:[12345]". 0, or -EINVAL if it is not one. */
int format_parse_socket_link(const char *link, uint64_t *ino);

/* A TCP state's name: "ESTAB" (as ss prints it) or, with label, "established". */
const char *format_tcp_state(unsigned int state, bool label);

#endif
