/* ports.h - TCP ports as given on the command line: the type the modules below
 * the daemon (tracker, http) need, without the configuration around it. */
#ifndef SR_PORTS_H
#define SR_PORTS_H

#include <stddef.h>
#include <stdint.h>

#define SR_PORT_MIN 1
#define SR_PORT_MAX UINT16_MAX

struct sr_port_range {
	uint16_t lo, hi; /* inclusive */
};

/* Parse "N" or "LO-HI" (SR_PORT_MIN..SR_PORT_MAX, LO <= HI). 0, or -EINVAL with out untouched. */
int ports_parse_range(const char *s, struct sr_port_range *out);

/* Split "HOST:PORT" ("[v6]:PORT" too) into host and port. 0 or -EINVAL. */
int ports_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
