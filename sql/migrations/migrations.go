// Package migrations embeds Vacancy's SQL migrations (golang-migrate format) so the
// api binary carries its schema. It holds no logic: cmd/api and the test harness
// run these files through golang-migrate.
package migrations

import "embed"

// FS holds every NNNN_name.{up,down}.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
