/* pressure.c - the kernel's TCP memory pressure, from /proc/net. */
#include "pressure.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "number.h"

/* The next word (spaces between words) of [*p, end) in *w, *wl; false at the end. */
static bool next_word(const char **p, const char *end, const char **w, size_t *wl)
{
	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return false;
	*w = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*wl = (size_t)(*p - *w);
	return true;
}

/* The column of name in a header line (len bytes), or -1. */
static int column_of(const char *line, size_t len, const char *name)
{
	const char *p = line, *w;
	size_t wl, nl = strlen(name);

	for (int col = 0; next_word(&p, line + len, &w, &wl); col++)
		if (wl == nl && !memcmp(w, name, wl))
			return col;
	return -1;
}

/* Word col of line (len bytes) into out (NUL-ended); false if there is none. */
static bool word_at(const char *line, size_t len, int col, char *out, size_t out_len)
{
	const char *p = line, *w;
	size_t wl;

	while (next_word(&p, line + len, &w, &wl))
		if (col-- == 0) {
			if (wl >= out_len)
				return false;
			memcpy(out, w, wl);
			out[wl] = '\0';
			return true;
		}
	return false;
}

static size_t line_len(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? (size_t)(nl - s) : strlen(s);
}

/* The line after l (its end, for the last). */
static const char *next_line(const char *l)
{
	size_t len = line_len(l);

	return l + len + (l[len] ? 1 : 0);
}

int pressure_parse_protocols(const char *text)
{
	size_t hl = line_len(text);
	int col = column_of(text, hl, "press");
	char w[16];

	if (col < 0)
		return -1;
	for (const char *l = next_line(text); *l; l = next_line(l)) {
		size_t len = line_len(l);

		if (len < 4 || memcmp(l, "TCP ", 4))
			continue;
		if (!word_at(l, len, col, w, sizeof(w)))
			return -1;
		if (!strcmp(w, "yes"))
			return 1;
		return !strcmp(w, "no") ? 0 : -1;
	}
	return -1;
}

int pressure_parse_netstat(const char *text, uint64_t *count)
{
	/* Pairs of lines: "TcpExt: name ...", then "TcpExt: value ...". */
	for (const char *l = text; *l; l = next_line(l)) {
		size_t len = line_len(l), vlen;
		const char *v = next_line(l);
		unsigned long n;
		char w[32];
		int col;

		if (len < 7 || memcmp(l, "TcpExt:", 7))
			continue;
		col = column_of(l, len, "TCPMemoryPressures");
		vlen = line_len(v);
		if (col < 0 || vlen < 7 || memcmp(v, "TcpExt:", 7) || !word_at(v, vlen, col, w, sizeof(w)))
			return -1;
		if (number_parse_ulong(w, 0, ULONG_MAX, &n))
			return -1;
		*count = n;
		return 0;
	}
	return -1;
}

/* A whole /proc file into buf (NUL-ended); false if it cannot be read. */
static bool slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r = 1;

	if (fd < 0)
		return false;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return r >= 0 && n > 0;
}

bool tcp_pressure_read(struct tcp_pressure *p, uint64_t now)
{
	char buf[16384]; /* netstat is about 4 KiB, protocols about 3 */
	uint64_t entered = 0;
	int press = -1, ent = -1;
	bool before = p->seen.ongoing;

	if (slurp("/proc/net/protocols", buf, sizeof(buf)))
		press = pressure_parse_protocols(buf);
	if (slurp("/proc/net/netstat", buf, sizeof(buf)))
		ent = pressure_parse_netstat(buf, &entered);
	p->unreadable = press < 0;
	p->seen.ongoing = press != 0;
	if (ent == 0) {
		if (p->have_entered && entered != p->entered)
			p->seen.ongoing = true;
		p->entered = entered;
		p->have_entered = true;
	}
	/* The pressure ended somewhere between the last read that found it and
	 * this one: until this one, for all we know. */
	if (p->seen.ongoing || before)
		p->seen.until_ns = now;
	if (before && !p->seen.ongoing)
		p->seen.ended_ns = now;
	return p->seen.ongoing;
}
