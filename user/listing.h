/* listing.h - `sockreap list`: the tracked sockets as a table or JSON (pure). */
#ifndef SR_LISTING_H
#define SR_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "podid.h"
#include "policy.h"

struct list_row {
	uint64_t cookie;
	const struct sr_sock *e;
	struct policy_verdict v;
	const char *target;
	const struct pod_identity *who; /* its pod and container, or unit; NULL: not known */
};

/*
 * Sort rows by stall age (the most advanced clock first) and write them to
 * f: aligned columns, or a JSON array when json. now_ns is the monotonic
 * time the verdicts were computed at.
 */
void listing_render(FILE *f, struct list_row *rows, size_t n, uint64_t now_ns, bool json);

/* "ok", "stalling 12.3/30s send_stall" or "STALLED send_stall 31.2s". */
void listing_verdict(char *buf, size_t len, const struct policy_verdict *v);

#endif
