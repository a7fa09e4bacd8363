// Package scale holds measurements at production size that are too slow for
// `make test`: the booking list's query plans at a million bookings in one
// organisation, and the retention job deleting a million rows while writers
// write. They run only with VACANCY_SCALE=1 (see docs/operations.md), against
// VACANCY_SCALE_DATABASE_URL (a superuser URL; the data is loaded once and
// reused) or a PostgreSQL container of their own. Test code only.
package scale
