/* value.c - one parser per kind of option value; limits come from the spec. */
#include "value.h"

#include "number.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

int value_apply(const struct value_spec *sp, const char *val, char *fix, size_t fixlen)
{
	void *dst = sp->dst;

	if (sp->count) {
		if (*sp->count >= sp->cap) {
			snprintf(fix, fixlen, "at most %zu can be given", sp->cap);
			return -EINVAL;
		}
		dst = (char *)sp->dst + *sp->count * sp->size;
	}
	if (sp->parse(sp, val, dst, fix, fixlen))
		return -EINVAL;
	if (sp->count)
		(*sp->count)++;
	if (sp->given)
		*sp->given = true;
	return 0;
}

/* Decimal digits only: strtoul alone accepts "-1", " 1" and "+1". */

int value_seconds(const struct value_spec *sp, const char *val, void *dst, char *fix,
		  size_t fixlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(val, &end);
	if (errno || end == val || *end || !isfinite(v) || v < sp->lim.secs.min ||
	    v > sp->lim.secs.max) {
		snprintf(fix, fixlen, "give a number of seconds from %g to %.0f, e.g. 30 or 2.5",
			 sp->lim.secs.min, sp->lim.secs.max);
		return -EINVAL;
	}
	*(double *)dst = v;
	return 0;
}

int value_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	return -EINVAL;
}

int value_flag(const struct value_spec *sp, const char *val, void *dst, char *fix, size_t fixlen)
{
	(void)sp;
	if (value_parse_bool(val, dst)) {
		snprintf(fix, fixlen, "use 1/true/yes or 0/false/no");
		return -EINVAL;
	}
	return 0;
}

int value_count(const struct value_spec *sp, const char *val, void *dst, char *fix, size_t fixlen)
{
	unsigned long v;

	if (number_parse_ulong(val, sp->lim.count.min, sp->lim.count.max, &v) || v > UINT32_MAX) {
		snprintf(fix, fixlen, "give a whole number from %lu to %lu", sp->lim.count.min,
			 sp->lim.count.max);
		return -EINVAL;
	}
	*(uint32_t *)dst = (uint32_t)v;
	return 0;
}

/* "off" for an option that can be turned off: the empty string. */
static bool turned_off(const struct value_spec *sp, const char *val, char *dst)
{
	if (!sp->lim.str.off_ok || strcmp(val, "off"))
		return false;
	dst[0] = '\0';
	return true;
}

int value_string(const struct value_spec *sp, const char *val, void *dst, char *fix,
		 size_t fixlen)
{
	if (turned_off(sp, val, dst))
		return 0;
	if (!*val || strlen(val) >= sp->size) {
		snprintf(fix, fixlen, "give %s of at most %zu bytes%s",
			 sp->lim.str.what ? sp->lim.str.what : "a value", sp->size - 1,
			 sp->lim.str.off_ok ? ", or off" : "");
		return -EINVAL;
	}
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

int value_addr(const struct value_spec *sp, const char *val, void *dst, char *fix, size_t fixlen)
{
	char host[256]; /* a DNS name has at most 253 bytes */
	uint16_t port;

	if (turned_off(sp, val, dst))
		return 0;
	if (strlen(val) >= sp->size || ports_split_hostport(val, host, sizeof(host), &port)) {
		snprintf(fix, fixlen, "use HOST:PORT (e.g. 127.0.0.1:9750, [::1]:9750)%s",
			 sp->lim.str.off_ok ? " or off" : "");
		return -EINVAL;
	}
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

/* The fix lists every name: "use a, b or c". */
int value_enum(const struct value_spec *sp, const char *val, void *dst, char *fix, size_t fixlen)
{
	const struct value_name *n;
	size_t o;

	for (n = sp->lim.names; n->name; n++) {
		if (!strcmp(val, n->name)) {
			*(int *)dst = n->value;
			return 0;
		}
	}
	o = (size_t)snprintf(fix, fixlen, "use");
	for (n = sp->lim.names; n->name && o < fixlen; n++)
		o += (size_t)snprintf(fix + o, fixlen - o, "%s%s",
				      n == sp->lim.names ? " " : n[1].name ? ", " : " or ", n->name);
	return -EINVAL;
}

int value_port_range(const struct value_spec *sp, const char *val, void *dst, char *fix,
		     size_t fixlen)
{
	(void)sp;
	if (ports_parse_range(val, dst)) {
		snprintf(fix, fixlen, "give a TCP port from %d to %d, or a range LO-HI", SR_PORT_MIN,
			 (int)SR_PORT_MAX);
		return -EINVAL;
	}
	return 0;
}


const char *value_shown(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; s[i] && i < VALUE_SHOWN_CHARS && o + 4 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < ' ' || c >= 0x7f || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i] && o + 3 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
