#include "ccurl.h"

CURLcode ccurl_set_long(CURL *curl, CURLoption option, long value) { return curl_easy_setopt(curl, option, value); }

CURLcode ccurl_set_string(CURL *curl, CURLoption option, const char *value) { return curl_easy_setopt(curl, option, value); }

CURLcode ccurl_set_pointer(CURL *curl, CURLoption option, void *value) { return curl_easy_setopt(curl, option, value); }

CURLcode ccurl_set_blob(CURL *curl, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob = {.data = (void *)data, .len = length, .flags = CURL_BLOB_COPY};
    return curl_easy_setopt(curl, option, &blob);
}

CURLcode ccurl_set_write(CURL *curl, ccurl_write_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(curl, CURLOPT_WRITEDATA, context);
}

CURLcode ccurl_set_progress(CURL *curl, ccurl_progress_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, callback);
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, CURLOPT_XFERINFODATA, context);
    return rc != CURLE_OK ? rc : curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
}

long ccurl_response_code(CURL *curl) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
