// libcurl for Swift: curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
// cannot call, so each argument type gets a typed wrapper here.
#pragma once
#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*ccurl_write_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*ccurl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

CURLcode ccurl_set_long(CURL *curl, CURLoption option, long value);
CURLcode ccurl_set_string(CURL *curl, CURLoption option, const char *value);
CURLcode ccurl_set_pointer(CURL *curl, CURLoption option, void *value);
/// Copies `length` bytes of `data` (CURL_BLOB_COPY): PEM certificates and keys from memory.
CURLcode ccurl_set_blob(CURL *curl, CURLoption option, const void *data, size_t length);
CURLcode ccurl_set_write(CURL *curl, ccurl_write_callback callback, void *context);
CURLcode ccurl_set_progress(CURL *curl, ccurl_progress_callback callback, void *context);
long ccurl_response_code(CURL *curl);
