/* target_spec.c - a --target spec, "key=value,...", read through a table of
 * keys that carry their parser, destination and limits (value.h). Pure. */
#include "target_spec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "value.h"

/* "unknown key 'x': use name, cgroup, ...", listing the table itself. */
static int unknown_key(const char *key, const struct value_spec *keys, size_t n, char *err,
		       size_t errlen)
{
	size_t o = (size_t)snprintf(err, errlen, "unknown key '%s': use", SHOWN(key));

	for (size_t i = 0; i < n && o < errlen; i++)
		o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? ", " : " ", keys[i].name);
	return -EINVAL;
}

/* One "key=value"; the value may itself contain '='. */
static int parse_item(char *item, const struct value_spec *keys, size_t n, char *err,
		      size_t errlen)
{
	char *val = strchr(item, '='), fix[256];
	const struct value_spec *k = NULL;

	if (!val) {
		snprintf(err, errlen, "'%s' is not key=value", SHOWN(item));
		return -EINVAL;
	}
	*val++ = '\0';
	for (size_t i = 0; i < n && !k; i++)
		if (!strcmp(keys[i].name, item))
			k = &keys[i];
	if (!k)
		return unknown_key(item, keys, n, err, errlen);
	if (value_apply(k, val, fix, sizeof(fix))) {
		snprintf(err, errlen, "bad value '%s' for key '%s': %s", SHOWN(val), k->name, fix);
		return -EINVAL;
	}
	return 0;
}

int options_parse_target(const char *spec, struct sr_target *t, char *err, size_t errlen)
{
	const struct value_spec keys[] = {
		{ "name", value_string, VALUE_DST(t->name), .lim.str.what = "a name" },
		{ "cgroup", value_string, VALUE_LIST(t->n_cgroups, t->cgroups),
		  .lim.str.what = "a cgroup v2 directory path" },
		{ "port", value_port_range, VALUE_LIST(t->n_ports, t->ports) },
		{ "stall-grace", value_seconds, VALUE_DST(t->stall_grace_s),
		  .given = &t->has_stall_grace, .lim.secs = { SR_STALL_GRACE_MIN_S, SR_RULE_MAX_S } },
		{ "peer-gone", value_seconds, VALUE_DST(t->peer_gone_timeout_s),
		  .given = &t->has_peer_gone_timeout, .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S } },
		{ "idle-timeout", value_seconds, VALUE_DST(t->idle_timeout_s),
		  .given = &t->has_idle_timeout, .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S } },
		{ "close-wait-timeout", value_seconds, VALUE_DST(t->close_wait_timeout_s),
		  .given = &t->has_close_wait_timeout, .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S } },
		{ "dry-run", value_flag, VALUE_DST(t->dry_run), .given = &t->has_dry_run },
		{ "reap-unowned", value_flag, VALUE_DST(t->reap_unowned), .given = &t->has_reap_unowned },
	};
	const char *p = spec;

	memset(t, 0, sizeof(*t));
	if (!*spec) {
		snprintf(err, errlen, "an empty target: give key=value pairs, e.g. port=8765,stall-grace=30");
		return -EINVAL;
	}
	while (*p) {
		char item[SR_TARGET_PATH + 32]; /* the longest cgroup path and its key */
		size_t l = strcspn(p, ",");

		if (l >= sizeof(item)) {
			snprintf(err, errlen, "an item of the target is too long");
			return -EINVAL;
		}
		memcpy(item, p, l);
		item[l] = '\0';
		p += l + (p[l] == ',');
		if (parse_item(item, keys, ARRAY_SIZE(keys), err, errlen))
			return -EINVAL;
	}
	return 0;
}
