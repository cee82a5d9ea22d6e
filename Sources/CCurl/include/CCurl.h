#ifndef FIELD_CCURL_H
#define FIELD_CCURL_H

#include <stddef.h>

/// One HTTP exchange's outcome. `body` is allocated; release it with
/// `field_http_free`.
typedef struct field_http_reply {
    /// The HTTP status, 0 when no reply arrived.
    long status;
    unsigned char *body;
    size_t length;
    /// libcurl's CURLcode: 0 when a reply arrived.
    int code;
    /// 1 when the failure is that the server's certificate is not trusted
    /// (unknown authority, wrong name, expired) or the CA file is unusable.
    int certificate;
    /// 1 when the reply was longer than the limit given.
    int too_large;
    char error[256];
} field_http_reply;

/// Sends one request with libcurl and waits for the whole reply. Verifies the
/// server's certificate and name, TLS 1.2 or later, http and https only, no
/// redirects. `ca_pem` (may be NULL) replaces the system's trusted
/// authorities with the PEM certificates given. Blocks the calling thread;
/// safe to call from several threads at once.
int field_http_perform(
    const char *url, int post,
    const char *const *headers, size_t header_count,
    const unsigned char *body, size_t body_length,
    const char *ca_pem, size_t ca_length,
    long connect_timeout_seconds, long stall_timeout_seconds, size_t max_reply,
    field_http_reply *reply);

void field_http_free(field_http_reply *reply);

#endif
