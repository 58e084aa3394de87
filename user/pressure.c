/* pressure.c - the kernel's TCP memory pressure, from /proc/net. */
#include "pressure.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The column of name in a header line (words separated by spaces), or -1. */
static int column_of(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);
	int col = 0;

	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && line[j] != ' ' && line[j] != '\n')
			j++;
		if (j > i) {
			if (j - i == nl && !memcmp(line + i, name, nl))
				return col;
			col++;
		}
		i = j + 1;
	}
	return -1;
}

/* Word col of line (len bytes) into out (NUL-ended); false if there is none. */
static bool word_at(const char *line, size_t len, int col, char *out, size_t out_len)
{
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && line[j] != ' ' && line[j] != '\n')
			j++;
		if (j > i && col-- == 0) {
			if (j - i >= out_len)
				return false;
			memcpy(out, line + i, j - i);
			out[j - i] = '\0';
			return true;
		}
		i = j + 1;
	}
	return false;
}

static size_t line_len(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? (size_t)(nl - s) : strlen(s);
}

int pressure_parse_protocols(const char *text)
{
	size_t hl = line_len(text);
	int col = column_of(text, hl, "press");
	char w[16];

	if (col < 0 || !text[hl])
		return -1;
	for (const char *l = text + hl + 1; *l; l += line_len(l) + (l[line_len(l)] ? 1 : 0)) {
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
	for (const char *l = text; *l; l += line_len(l) + (l[line_len(l)] ? 1 : 0)) {
		size_t len = line_len(l), vlen;
		const char *v = l + len + (l[len] ? 1 : 0);
		char w[32], *end;
		int col;

		if (len < 7 || memcmp(l, "TcpExt:", 7))
			continue;
		col = column_of(l, len, "TCPMemoryPressures");
		vlen = line_len(v);
		if (col < 0 || vlen < 7 || memcmp(v, "TcpExt:", 7) || !word_at(v, vlen, col, w, sizeof(w)))
			return -1;
		*count = strtoull(w, &end, 10);
		return *end ? -1 : 0;
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

	if (slurp("/proc/net/protocols", buf, sizeof(buf)))
		press = pressure_parse_protocols(buf);
	if (slurp("/proc/net/netstat", buf, sizeof(buf)))
		ent = pressure_parse_netstat(buf, &entered);
	p->unreadable = press < 0;
	p->now = press != 0;
	if (ent == 0) {
		if (p->have_entered && entered != p->entered)
			p->now = true;
		p->entered = entered;
		p->have_entered = true;
	}
	if (p->now)
		p->seen_ns = now;
	return p->now;
}
