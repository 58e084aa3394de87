/* ports.c - TCP ports and HOST:PORT as given on the command line (pure). */
#include "ports.h"

#include "number.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ports_parse_range(const char *s, struct sr_port_range *out)
{
	char lo[8];
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (!dash)
		dash = s + strlen(s);
	if ((size_t)(dash - s) >= sizeof(lo))
		return -EINVAL;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (number_parse_ulong(lo, SR_PORT_MIN, SR_PORT_MAX, &a))
		return -EINVAL;
	b = a;
	if (*dash && number_parse_ulong(dash + 1, SR_PORT_MIN, SR_PORT_MAX, &b))
		return -EINVAL;
	if (b < a)
		return -EINVAL;
	out->lo = (uint16_t)a;
	out->hi = (uint16_t)b;
	return 0;
}

int ports_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned long p;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || number_parse_ulong(colon + 1, SR_PORT_MIN, SR_PORT_MAX, &p))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}
