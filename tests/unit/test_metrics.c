/* test_metrics.c - the Prometheus exposition and the atomic file dump of user/metrics.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

static struct sr_metrics m;

static char *render(void)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(&m, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void assert_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("exposition lacks:\n%s", want);
}

/* The first line of text that starts with prefix, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
	size_t pl = strlen(prefix);

	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, prefix, pl))
			return l;
		if (!strchr(l, '\n'))
			break;
	}
	return NULL;
}

/* Strip a histogram sample suffix so that a sample maps to its family. */
static void family_of(const char *sample, size_t len, char *out, size_t outlen)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };

	snprintf(out, outlen, "%.*s", (int)len, sample);
	for (size_t i = 0; i < 3; i++) {
		size_t fl = strlen(out), sl = strlen(sfx[i]);

		if (fl > sl && !strcmp(out + fl - sl, sfx[i]))
			out[fl - sl] = '\0';
	}
}

/*
 * What `promtool check metrics` insists on, checked structurally: every line
 * ends in '\n'; every sample belongs to the family whose # TYPE came last;
 * a family's HELP and TYPE come once each, before its samples.
 */
static void assert_well_formed(const char *text)
{
	char cur[128] = "", seen[64][128];
	size_t n_seen = 0;

	assert_true(*text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t ll = (size_t)(nl - l);

		assert_true(ll > 0);
		if (!strncmp(l, "# HELP ", 7)) {
			size_t nlen = strcspn(l + 7, " ");
			const char *t = l + ll + 1;

			/* TYPE follows HELP for the same name. */
			assert_int_equal(strncmp(t, "# TYPE ", 7), 0);
			assert_int_equal(strncmp(t + 7, l + 7, nlen), 0);
			snprintf(cur, sizeof(cur), "%.*s", (int)nlen, l + 7);
			for (size_t i = 0; i < n_seen; i++)
				if (!strcmp(seen[i], cur))
					fail_msg("family %s described twice", cur);
			assert_true(n_seen < 64);
			snprintf(seen[n_seen++], sizeof(seen[0]), "%s", cur);
		} else if (l[0] != '#') {
			char fam[128];
			size_t nlen = strcspn(l, "{ ");
			const char *val = l + nlen;

			family_of(l, nlen, fam, sizeof(fam));
			if (strcmp(fam, cur))
				fail_msg("sample '%.*s' outside its family (current %s)", (int)ll, l, cur);
			if (*val == '{') {
				val = strstr(val, "} ");
				assert_non_null(val);
				val++;
			}
			assert_int_equal(*val, ' ');
			/* A value, then the end of the line. */
			{
				char *end;

				strtod(val + 1, &end);
				assert_ptr_equal(end, nl);
			}
		}
		l = nl + 1;
	}
}

static void setup_metrics(void)
{
	metrics_init(&m, "1.2.3", "6.18.0-test", 1700000000.5);
}

static void test_families_help_and_type(void **state)
{
	static const char *const fam[][2] = {
		{ "sockreap_reaps_total", "counter" },
		{ "sockreap_stalls_total", "counter" },
		{ "sockreap_sockets_tracked", "gauge" },
		{ "sockreap_map_capacity", "gauge" },
		{ "sockreap_map_full_total", "counter" },
		{ "sockreap_scan_duration_seconds", "histogram" },
		{ "sockreap_build_info", "gauge" },
	};
	char *out;

	(void)state;
	setup_metrics();
	out = render();
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		char help[128], type[128];
		const char *h, *t, *sample;

		snprintf(help, sizeof(help), "# HELP %s ", fam[i][0]);
		snprintf(type, sizeof(type), "# TYPE %s %s\n", fam[i][0], fam[i][1]);
		h = find_line(out, help);
		t = find_line(out, type);
		sample = find_line(out, fam[i][0]); /* first sample line of the family */
		if (!h || !t || !sample)
			fail_msg("family %s: help %p type %p sample %p", fam[i][0], (void *)h, (void *)t,
				 (void *)sample);
		assert_true(h < t);
		assert_true(t < sample);
	}
	assert_well_formed(out);
	free(out);
}

static void test_counter_and_gauge_values(void **state)
{
	char *out;

	(void)state;
	setup_metrics();
	m.reaps[SR_REASON_SEND_STALL][REAP_OK] = 3;
	m.reaps[SR_REASON_PEER_GONE][REAP_MISMATCH] = 1;
	m.reaps[SR_REASON_RX_IDLE][REAP_DRY_RUN] = 12;
	m.stalls[SR_REASON_PEER_GONE] = 2;
	m.stalls[SR_REASON_SEND_STALL] = 9;
	m.sockets_tracked = 17;
	m.map_capacity = 65536;
	m.bpf[SR_CNT_MAP_FULL] = 5;
	out = render();
	assert_has(out, "\nsockreap_reaps_total{reason=\"send_stall\",result=\"ok\"} 3\n");
	assert_has(out, "\nsockreap_reaps_total{reason=\"peer_gone\",result=\"mismatch\"} 1\n");
	assert_has(out, "\nsockreap_reaps_total{reason=\"rx_idle\",result=\"dry_run\"} 12\n");
	assert_has(out, "\nsockreap_reaps_total{reason=\"send_stall\",result=\"error\"} 0\n");
	assert_has(out, "\nsockreap_stalls_total{reason=\"send_stall\"} 9\n");
	assert_has(out, "\nsockreap_stalls_total{reason=\"peer_gone\"} 2\n");
	assert_has(out, "\nsockreap_stalls_total{reason=\"rx_idle\"} 0\n");
	assert_has(out, "\nsockreap_sockets_tracked 17\n");
	assert_has(out, "\nsockreap_map_capacity 65536\n");
	assert_has(out, "\nsockreap_map_full_total 5\n");
	assert_has(out, "\nsockreap_build_info{version=\"1.2.3\",kernel=\"6.18.0-test\"} 1\n");
	/* "none" is not a reason anything is reaped for. */
	assert_null(strstr(out, "reason=\"none\""));
	assert_well_formed(out);
	free(out);
}

static void test_histogram_rendering(void **state)
{
	char *out;

	(void)state;
	setup_metrics();
	hist_observe(&m.scan_seconds, 0.00005);	/* le 0.0001 */
	hist_observe(&m.scan_seconds, 0.0001);	/* boundary: le 0.0001 */
	hist_observe(&m.scan_seconds, 0.003);	/* le 0.005 */
	hist_observe(&m.scan_seconds, 0.75);	/* le 1 */
	hist_observe(&m.scan_seconds, 2.0);	/* +Inf only */
	out = render();
	assert_has(out, "# TYPE sockreap_scan_duration_seconds histogram\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.0001\"} 2\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.00025\"} 2\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.0005\"} 2\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.001\"} 2\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.0025\"} 2\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.005\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.01\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.025\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.05\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.1\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"0.25\"} 3\n"
			"sockreap_scan_duration_seconds_bucket{le=\"1\"} 4\n"
			"sockreap_scan_duration_seconds_bucket{le=\"+Inf\"} 5\n"
			"sockreap_scan_duration_seconds_sum 2.75315\n"
			"sockreap_scan_duration_seconds_count 5\n");
	assert_well_formed(out);
	free(out);

	/* Empty: every bucket 0, sum 0, count 0. */
	setup_metrics();
	out = render();
	assert_has(out, "sockreap_scan_duration_seconds_bucket{le=\"+Inf\"} 0\n"
			"sockreap_scan_duration_seconds_sum 0\n"
			"sockreap_scan_duration_seconds_count 0\n");
	free(out);
}

static void test_hist_observe_buckets(void **state)
{
	struct histogram h;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.n = 3;
	h.bounds[0] = 1;
	h.bounds[1] = 2;
	h.bounds[2] = 5;

	hist_observe(&h, 0.5);
	hist_observe(&h, 1.0);		/* a bound belongs to its own bucket (le) */
	hist_observe(&h, -3.0);		/* below everything: first bucket */
	assert_int_equal(h.counts[0], 3);
	hist_observe(&h, 1.0000001);
	hist_observe(&h, 2.0);
	assert_int_equal(h.counts[1], 2);
	hist_observe(&h, 4.999);
	hist_observe(&h, 5.0);
	assert_int_equal(h.counts[2], 2);
	hist_observe(&h, 5.0001);
	hist_observe(&h, 1e300);
	assert_int_equal(h.counts[3], 2);	/* +Inf */
	assert_int_equal(h.counts[4], 0);	/* nothing past the +Inf slot */
	assert_int_equal(h.count, 9);
	assert_true(h.sum == 0.5 + 1.0 - 3.0 + 1.0000001 + 2.0 + 4.999 + 5.0 + 5.0001 + 1e300);

	/* A histogram with no finite bounds counts everything in +Inf. */
	memset(&h, 0, sizeof(h));
	hist_observe(&h, 0.1);
	assert_int_equal(h.counts[0], 1);
	assert_int_equal(h.count, 1);
}

static void test_build_info_escaped(void **state)
{
	char *out;

	(void)state;
	metrics_init(&m, "v1\"x", "6.1 \"evil\" \\path\nx", 0);
	out = render();
	assert_has(out, "\nsockreap_build_info{version=\"v1\\\"x\",kernel=\"6.1 \\\"evil\\\" "
			"\\\\path\\nx\"} 1\n");
	assert_well_formed(out);
	free(out);

	/* Over-long strings are cut, never overflow. */
	{
		char longv[200];

		memset(longv, 'v', sizeof(longv) - 1);
		longv[sizeof(longv) - 1] = '\0';
		metrics_init(&m, longv, longv, 0);
		assert_int_equal(strlen(m.version), sizeof(m.version) - 1);
		assert_int_equal(strlen(m.kernel), sizeof(m.kernel) - 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families_help_and_type),
		cmocka_unit_test(test_counter_and_gauge_values),
		cmocka_unit_test(test_histogram_rendering),
		cmocka_unit_test(test_hist_observe_buckets),
		cmocka_unit_test(test_build_info_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
