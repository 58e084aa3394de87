/* format.c - address and /proc text helpers, pure. */
#include "format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "sockreap.h"

void format_addr(char *buf, size_t len, uint16_t family, const uint32_t addr[4], uint16_t port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (family == AF_INET) {
		inet_ntop(AF_INET, addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
}

int format_parse_socket_link(const char *link, uint64_t *ino)
{
	static const char pfx[] = "socket:[";
	uint64_t v = 0;
	const char *p;

	if (strncmp(link, pfx, sizeof(pfx) - 1))
		return -EINVAL;
	p = link + sizeof(pfx) - 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (p[0] != ']' || p[1] != '\0')
		return -EINVAL;
	*ino = v;
	return 0;
}

/* One table, two spellings: ss's for `list`, snake case for metric labels. */
static const struct {
	const char *ss, *label;
} tcp_states[SR_TCP_NSTATES] = {
	{ "UNKNOWN", "unknown" },	   { "ESTAB", "established" },	  { "SYN-SENT", "syn_sent" },
	{ "SYN-RECV", "syn_recv" },	   { "FIN-WAIT-1", "fin_wait1" }, { "FIN-WAIT-2", "fin_wait2" },
	{ "TIME-WAIT", "time_wait" },	   { "CLOSE", "close" },	  { "CLOSE-WAIT", "close_wait" },
	{ "LAST-ACK", "last_ack" },	   { "LISTEN", "listen" },	  { "CLOSING", "closing" },
	{ "NEW-SYN-RECV", "new_syn_recv" },
};

const char *format_tcp_state(unsigned int state, bool label)
{
	if (state >= SR_TCP_NSTATES)
		state = 0;
	return label ? tcp_states[state].label : tcp_states[state].ss;
}
