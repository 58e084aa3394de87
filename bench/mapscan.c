/* mapscan.c - the cost of a naive full scan of the socket map, beyond what real sockets allow.
 *
 *   mapscan [--entries N,N,...] [--reads R] [--batch B]
 *
 * For each size N: create a BPF hash map with sockreap's key and value
 * (u64 cookie -> struct sr_sock, include/sockreap.h), fill it to N entries
 * with bpf_map_update_batch, then read it whole R times with
 * bpf_map_lookup_batch in batches of B, as the daemon's tracker_read() does.
 * The median thread CPU time and wall time of one full read are reported per
 * entry; the map's kernel memory is its fdinfo "memlock". For the smaller
 * sizes (up to 100,000) the unbatched walk (get_next_key + lookup_elem, two
 * syscalls an entry) is timed too, to show what batching saves.
 * One JSON object per size on stdout.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sockreap.h"

#define MAX_SIZES 8
#define MAX_READS 50
#define FILL_CHUNK 10000
#define UNBATCHED_MAX 100000

struct timing {
	double cpu_s, wall_s;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timing now(void)
{
	return (struct timing){ clock_s(CLOCK_THREAD_CPUTIME_ID), clock_s(CLOCK_MONOTONIC) };
}

static struct timing since(struct timing t0)
{
	struct timing t1 = now();

	return (struct timing){ t1.cpu_s - t0.cpu_s, t1.wall_s - t0.wall_s };
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The kernel's own accounting of the map's memory (what bpftool shows as bytes_memlock). */
static long long memlock_of(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int fill(int fd, __u64 *keys, struct sr_sock *vals, long n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);

	for (long i = 0; i < n; i++) {
		keys[i] = 0x100000000ull + (__u64)i * 7919; /* cookie-like, not contiguous */
		memset(&vals[i], 0, sizeof(vals[i]));
		vals[i].state = SR_TCP_ESTABLISHED;
		vals[i].family = 2;
		vals[i].sport = (__u16)(i & 0xffff);
		vals[i].first_seen_ns = (__u64)i;
	}
	for (long off = 0; off < n; off += FILL_CHUNK) {
		__u32 count = (__u32)(n - off < FILL_CHUNK ? n - off : FILL_CHUNK);

		if (bpf_map_update_batch(fd, keys + off, vals + off, &count, &opts))
			return -errno;
	}
	return 0;
}

/* One full batched read; returns the entries read, or a negative errno. */
static long read_all(int fd, __u64 *keys, struct sr_sock *vals, long cap, __u32 batch)
{
	__u64 token = 0;
	long n = 0;
	int first = 1;

	for (;;) {
		__u32 count = batch;
		int ret;

		if (n + (long)batch > cap)
			count = (__u32)(cap - n);
		if (!count)
			return -ENOSPC;
		ret = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys + n, vals + n,
					   &count, NULL);
		n += count;
		first = 0;
		if (ret)
			return errno == ENOENT ? n : -errno;
	}
}

/* The unbatched walk: get_next_key + lookup_elem per entry. */
static long read_unbatched(int fd, struct sr_sock *val)
{
	__u64 key, next;
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, val) == 0)
			n++;
		key = next;
		prev = &key;
	}
	return n;
}

static int run_size(long n, int reads, __u32 batch)
{
	long cap = n + (long)batch; /* a batch may return a whole bucket beyond n */
	__u64 *keys = calloc((size_t)cap, sizeof(*keys));
	struct sr_sock *vals = calloc((size_t)cap, sizeof(*vals));
	double cpu[MAX_READS], wall[MAX_READS], ub_cpu = -1, ub_wall = -1, fill_s;
	struct timing t0;
	int fd = -1, ret = -ENOMEM;
	long got = 0;

	if (!keys || !vals)
		goto cleanup;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_socks", sizeof(__u64), sizeof(struct sr_sock),
			    (__u32)n, NULL);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "mapscan: cannot create a map of %ld entries: %s\n", n, strerror(-ret));
		goto cleanup;
	}
	t0 = now();
	ret = fill(fd, keys, vals, n);
	fill_s = since(t0).wall_s;
	if (ret) {
		fprintf(stderr, "mapscan: batch update failed: %s\n", strerror(-ret));
		goto cleanup;
	}
	for (int r = 0; r < reads; r++) {
		struct timing d;

		t0 = now();
		got = read_all(fd, keys, vals, cap, batch);
		d = since(t0);
		if (got != n) {
			ret = got < 0 ? (int)got : -EIO;
			fprintf(stderr, "mapscan: read %ld of %ld entries: %s\n", got, n, strerror(-ret));
			goto cleanup;
		}
		cpu[r] = d.cpu_s;
		wall[r] = d.wall_s;
	}
	if (n <= UNBATCHED_MAX) {
		struct timing d;

		t0 = now();
		got = read_unbatched(fd, vals);
		d = since(t0);
		ub_cpu = d.cpu_s;
		ub_wall = d.wall_s;
	}
	printf("{\"entries\":%ld,\"value_bytes\":%zu,\"batch\":%u,\"reads\":%d,\"fill_s\":%.4f,"
	       "\"memlock_bytes\":%lld,\"read_cpu_s\":%.6f,\"read_wall_s\":%.6f,"
	       "\"cpu_ns_per_entry\":%.1f,\"wall_ns_per_entry\":%.1f,"
	       "\"unbatched_cpu_ns_per_entry\":%.1f,\"unbatched_wall_ns_per_entry\":%.1f}\n",
	       n, sizeof(struct sr_sock), batch, reads, fill_s, memlock_of(fd), median(cpu, reads),
	       median(wall, reads), median(cpu, reads) * 1e9 / (double)n,
	       median(wall, reads) * 1e9 / (double)n, ub_cpu < 0 ? -1 : ub_cpu * 1e9 / (double)n,
	       ub_wall < 0 ? -1 : ub_wall * 1e9 / (double)n);
	fflush(stdout);
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	free(keys);
	free(vals);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "entries", required_argument, 0, 'n' },
		{ "reads", required_argument, 0, 'r' },
		{ "batch", required_argument, 0, 'b' },
		{ 0, 0, 0, 0 },
	};
	long sizes[MAX_SIZES] = { 1000000 };
	int n_sizes = 1, reads = 5, c;
	long batch = 4096; /* the daemon's BATCH (user/tracker.c) */

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *p, *end;

		switch (c) {
		case 'n':
			n_sizes = 0;
			for (p = optarg; *p && n_sizes < MAX_SIZES; p = *end ? end + 1 : end) {
				errno = 0;
				sizes[n_sizes] = strtol(p, &end, 10);
				if (errno || end == p || sizes[n_sizes] < 1 || sizes[n_sizes] > 4000000 ||
				    (*end && *end != ','))
					goto usage;
				n_sizes++;
			}
			break;
		case 'r': reads = atoi(optarg); break;
		case 'b': batch = atol(optarg); break;
		default: goto usage;
		}
	}
	if (!n_sizes || reads < 1 || reads > MAX_READS || batch < 1 || batch > 1000000)
		goto usage;
	for (int i = 0; i < n_sizes; i++)
		if (run_size(sizes[i], reads, (__u32)batch))
			return 1;
	return 0;
usage:
	fprintf(stderr, "usage: mapscan [--entries N[,N...] (<= 4000000)] [--reads 1..%d] "
			"[--batch B]\n",
		MAX_READS);
	return 2;
}
