/* libcurl for WardenHTTP (engine and notifier). */
#include <curl/curl.h>
