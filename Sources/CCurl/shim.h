/* libcurl for WardenHTTP (engine and notifier), with non-variadic wrappers Swift can call. */
#include <curl/curl.h>

typedef size_t (*warden_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode warden_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode warden_curl_set_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode warden_curl_set_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode warden_curl_set_offt(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode warden_curl_set_write(CURL *h, warden_curl_data_cb cb, void *ud) {
    CURLcode r = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
    return r != CURLE_OK ? r : curl_easy_setopt(h, CURLOPT_WRITEDATA, ud);
}
static inline CURLcode warden_curl_set_header_cb(CURL *h, warden_curl_data_cb cb, void *ud) {
    CURLcode r = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
    return r != CURLE_OK ? r : curl_easy_setopt(h, CURLOPT_HEADERDATA, ud);
}
static inline CURLcode warden_curl_get_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode warden_curl_get_double(CURL *h, CURLINFO i, double *out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode warden_curl_get_ptr(CURL *h, CURLINFO i, void **out) { return curl_easy_getinfo(h, i, out); }
static inline CURLMcode warden_curl_multi_set_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
