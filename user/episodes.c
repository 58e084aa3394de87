/* episodes.c - the per-socket stall episode and its retry clock (pure). */
#include "episodes.h"

#include <errno.h>
#include <stdlib.h>

static int cmp_episode(const void *a, const void *b)
{
	const struct episode *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->onset_ns != y->onset_ns)
		return x->onset_ns < y->onset_ns ? -1 : 1;
	return 0;
}

static int grow(struct episodes *eps, size_t want)
{
	size_t cap = eps->cap ? eps->cap : 64;
	struct episode *a, *b;

	if (want <= eps->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	a = realloc(eps->cur, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	eps->cur = a;
	b = realloc(eps->next, cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	eps->next = b;
	eps->cap = cap;
	return 0;
}

void episodes_begin(struct episodes *eps)
{
	eps->n_next = 0;
}

ssize_t episodes_carry(struct episodes *eps, uint64_t key, uint64_t onset_ns, uint64_t now,
		       bool *is_new)
{
	struct episode probe = { key, onset_ns, 0 }, *old, *ep;

	if (grow(eps, eps->n_next + 1))
		return -ENOMEM;
	old = eps->n_cur ? bsearch(&probe, eps->cur, eps->n_cur, sizeof(probe), cmp_episode) : NULL;
	ep = &eps->next[eps->n_next];
	*ep = old ? *old : probe;
	if (!old)
		ep->retry_ns = now; /* due now */
	*is_new = !old;
	return (ssize_t)eps->n_next++;
}

bool episode_due(const struct episode *ep, uint64_t now)
{
	return ep->retry_ns && ep->retry_ns <= now;
}

void episode_acted(struct episode *ep, bool settled, uint64_t now, uint64_t grace_ns)
{
	ep->retry_ns = settled ? 0 : now + grace_ns;
}

void episode_settle(struct episode *ep)
{
	ep->retry_ns = 0;
}

void episode_retry_next_scan(struct episode *ep, uint64_t now)
{
	ep->retry_ns = now ? now : 1; /* 0 would mean settled */
}

void episode_forget(struct episode *ep)
{
	ep->key = 0;
}

void episodes_commit(struct episodes *eps)
{
	struct episode *tmp = eps->cur;
	size_t kept = 0;

	for (size_t i = 0; i < eps->n_next; i++)
		if (eps->next[i].key)
			eps->next[kept++] = eps->next[i];
	eps->cur = eps->next;
	eps->next = tmp;
	eps->n_cur = kept;
	eps->n_next = 0;
	if (kept) /* never qsort(NULL, 0): the arrays exist from the first stall on */
		qsort(eps->cur, eps->n_cur, sizeof(*eps->cur), cmp_episode);
}

void episodes_free(struct episodes *eps)
{
	free(eps->cur);
	free(eps->next);
	*eps = (struct episodes){ 0 };
}
