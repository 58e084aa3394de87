/* value.h - one parser per kind of option value, and the spec that carries it:
 * a name, its parser, its destination and its limits, written once (as
 * retsnoop's cfg_specs[]). The command line (options.c) and --target specs
 * (target_spec.c) are tables of these. Pure: no globals, no I/O. */
#ifndef SR_VALUE_H
#define SR_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* One name of an enum-valued option; a table of them ends with { NULL }. */
struct value_name {
	const char *name;
	int value;
};

struct value_spec;

/*
 * Parse val into dst (the field, or the list item being added; sp->size
 * bytes). 0, or -EINVAL with what to give instead written into fix.
 */
typedef int (*value_parse_fn)(const struct value_spec *sp, const char *val, void *dst,
			      char *fix, size_t fixlen);

struct value_spec {
	const char *name;
	value_parse_fn parse;
	void *dst;		/* the field; for a list its first item */
	size_t size;		/* of the field, or of one item */
	size_t *count;		/* a list: the items so far; NULL for one value */
	size_t cap;		/* a list: room for this many */
	bool *given;		/* if set, made true by a value */
	char sep;		/* a list in one string (SOCKREAP_PORT=80,443): its separator */
	const char *implied;	/* what a bare --flag means; NULL: a value must follow */
	/* For --help and README's options table (one source for both): */
	const char *arg;	/* the value's placeholder ("SECONDS"); NULL for a flag */
	const char *dflt;	/* the default, as shown */
	const char *help;	/* what it does, one sentence or a few */
	union {
		struct { double min, max; } secs;
		struct { unsigned long min, max; } count;
		struct { const char *what; bool off_ok; } str; /* off_ok: "off" gives "" */
		const struct value_name *names;
	} lim;
};

/* The destination of a spec: one field, or a list of count items in arr. */
#define VALUE_DST(field) .dst = &(field), .size = sizeof(field)
#define VALUE_LIST(n, arr) \
	.dst = (arr), .size = sizeof((arr)[0]), .count = &(n), .cap = ARRAY_SIZE(arr)

/* Apply one value: the field is set, or the list gets one more item if it has room. */
int value_apply(const struct value_spec *sp, const char *val, char *fix, size_t fixlen);

/* The parsers, one per kind; each reads its limits from sp->lim. */
int value_seconds(const struct value_spec *sp, const char *val, void *dst, char *fix,
		  size_t fixlen); /* double, finite, lim.secs */
int value_flag(const struct value_spec *sp, const char *val, void *dst, char *fix,
	       size_t fixlen); /* bool: 1/true/yes/on, 0/false/no/off or "" */
int value_count(const struct value_spec *sp, const char *val, void *dst, char *fix,
		size_t fixlen); /* uint32_t, decimal digits only, lim.count */
int value_string(const struct value_spec *sp, const char *val, void *dst, char *fix,
		 size_t fixlen); /* char[size], not empty, lim.str */
int value_addr(const struct value_spec *sp, const char *val, void *dst, char *fix,
	       size_t fixlen); /* char[size] holding HOST:PORT, lim.str.off_ok */
int value_enum(const struct value_spec *sp, const char *val, void *dst, char *fix,
	       size_t fixlen); /* an int-sized enum, one of lim.names */
int value_port_range(const struct value_spec *sp, const char *val, void *dst, char *fix,
		     size_t fixlen); /* struct sr_port_range */

/* A bool from 1/true/yes/on or 0/false/no/off/"" (any case). 0 or -EINVAL. */
int value_parse_bool(const char *s, bool *out);

/*
 * Outside input for a message: control bytes and non-ASCII as \xNN, cut after
 * VALUE_SHOWN_CHARS characters, so an error stays one readable line.
 */
#define VALUE_SHOWN_CHARS 64
#define VALUE_SHOWN_SIZE (VALUE_SHOWN_CHARS * 4 + sizeof("..."))
const char *value_shown(const char *s, char *buf, size_t len);
#define SHOWN(s) value_shown((s), (char[VALUE_SHOWN_SIZE]){ 0 }, VALUE_SHOWN_SIZE)

#endif
