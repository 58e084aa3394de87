/* http.h - the /metrics and /healthz endpoint (libmicrohttpd). */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include <stddef.h>

struct http_server;

/* Listen on "HOST:PORT". 0, or negative errno with a message in err. */
int http_start(struct http_server **out, const char *addr, char *err, size_t errlen);
/* Replace the exposition served from now on (copied). */
void http_publish(struct http_server *s, const char *body, size_t len);
void http_stop(struct http_server *s);

#endif
