/* libsystemd: sd_notify, sd_watchdog_enabled, sd_journal_send. */
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-id128.h>
