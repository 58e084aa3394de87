/* http.c - serve the last rendered exposition; never blocks the scan loop.
 *
 * libmicrohttpd rather than a hand-written parser: this runs in a privileged
 * process. Its own thread answers; the scan loop only swaps the body under a
 * mutex. Connection count and idle time are capped so a slow or hostile
 * client cannot pin memory or threads.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ports.h"

#define HTTP_MAX_CONNECTIONS 16
#define HTTP_TIMEOUT_S 5
#define HTTP_MEMORY_LIMIT (32 * 1024)

struct http_server {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	char *body;
	size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
			     const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct http_server *s = cls;
	static const char nf[] = "not found\n", bad[] = "method not allowed\n";
	char *copy;
	size_t len;

	(void)version;
	(void)upload;
	(void)state;
	if (*upload_len) /* a request body is never wanted: refuse it */
		return MHD_NO;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad, sizeof(bad) - 1,
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/healthz"))
		return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof(nf) - 1,
			     MHD_RESPMEM_PERSISTENT);
	pthread_mutex_lock(&s->lock);
	len = s->len;
	copy = malloc(len ? len : 1);
	if (copy)
		memcpy(copy, s->body, len);
	pthread_mutex_unlock(&s->lock);
	if (!copy)
		return MHD_NO;
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", copy, len,
		     MHD_RESPMEM_MUST_FREE);
}

int http_start(struct http_server **out, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct http_server *s;
	char host[256];
	uint16_t port;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

	memset(&ss, 0, sizeof(ss));
	if (ports_split_hostport(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "sockreap: bad --metrics-addr '%s': use HOST:PORT or off", addr);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen,
			 "sockreap: --metrics-addr host '%s' is not an IP address: use e.g. 127.0.0.1:9750",
			 host);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)8,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				  MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen,
			 "sockreap: cannot listen on %s (port in use?): choose another --metrics-addr "
			 "or pass --metrics-addr off",
			 addr);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -EADDRINUSE;
	}
	*out = s;
	return 0;
}

void http_publish(struct http_server *s, const char *body, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return; /* keep serving the previous exposition */
	memcpy(copy, body, len);
	pthread_mutex_lock(&s->lock);
	free(s->body);
	s->body = copy;
	s->len = len;
	pthread_mutex_unlock(&s->lock);
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	pthread_mutex_destroy(&s->lock);
	free(s->body);
	free(s);
}
