#include "CCurl.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t field_curl_once = PTHREAD_ONCE_INIT;

static void field_curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    field_http_reply *reply;
    size_t capacity;
    size_t max;
} field_sink;

static size_t field_write(char *data, size_t size, size_t count, void *context) {
    field_sink *sink = context;
    size_t bytes = size * count;
    field_http_reply *reply = sink->reply;
    if (reply->length + bytes > sink->max) {
        reply->too_large = 1;
        return 0;
    }
    if (reply->length + bytes > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 16384;
        while (capacity < reply->length + bytes) capacity *= 2;
        unsigned char *grown = realloc(reply->body, capacity);
        if (!grown) return 0;
        reply->body = grown;
        sink->capacity = capacity;
    }
    memcpy(reply->body + reply->length, data, bytes);
    reply->length += bytes;
    return bytes;
}

int field_http_perform(
    const char *url, int post,
    const char *const *headers, size_t header_count,
    const unsigned char *body, size_t body_length,
    const char *ca_pem, size_t ca_length,
    long connect_timeout_seconds, long stall_timeout_seconds, size_t max_reply,
    field_http_reply *reply) {
    memset(reply, 0, sizeof *reply);
    pthread_once(&field_curl_once, field_curl_init);
    CURL *curl = curl_easy_init();
    if (!curl) {
        reply->code = CURLE_FAILED_INIT;
        strcpy(reply->error, "libcurl could not start");
        return reply->code;
    }
    char error[CURL_ERROR_SIZE] = {0};
    field_sink sink = {reply, 0, max_reply};
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) list = curl_slist_append(list, headers[i]);
    // A large body would otherwise wait for "100 Continue".
    list = curl_slist_append(list, "Expect:");

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_pem) {
        struct curl_blob blob = {(void *)ca_pem, ca_length, CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_timeout_seconds);
    // A transfer that stalls (under 1 byte a second) this long fails; a slow
    // but moving one does not.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_timeout_seconds);
    // And none, however it trickles, holds its thread past ten minutes.
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
    // This machine is never reached through a proxy: plain http:// is only
    // allowed to loopback, and a proxy would carry it elsewhere.
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "localhost,127.0.0.0/8,::1");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (post) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, field_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);

    CURLcode code = curl_easy_perform(curl);
    reply->code = code;
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    } else {
        reply->certificate = code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE;
        const char *text = error[0] ? error : curl_easy_strerror(code);
        strncpy(reply->error, text, sizeof reply->error - 1);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return code;
}

void field_http_free(field_http_reply *reply) {
    free(reply->body);
    reply->body = NULL;
    reply->length = 0;
}
