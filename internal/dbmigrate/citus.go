package dbmigrate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// referenceTables are read before any organisation is known (the key lookup, a
// retried organisation creation) and referenced by the tenant tables' foreign
// keys. On Citus each is a reference table: a copy on every node.
var referenceTables = []string{"organisations", "api_keys", "platform_commands"}

// ErrDistributed is Down's answer on a Citus coordinator whose schema is
// distributed: the older migrations' triggers and views cannot be put back on
// distributed tables.
var ErrDistributed = errors.New("the schema is distributed (Citus): migrating down is not supported")

// hasCitus reports whether the database has the citus extension: it is then a
// Citus coordinator (Vacancy never runs on a worker).
func hasCitus(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var citus bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')").Scan(&citus); err != nil {
		return false, fmt.Errorf("look for the citus extension: %w", err)
	}
	return citus, nil
}

type table struct {
	name        string
	tenant      bool // has organisation_id
	distributed bool // already a distributed or reference table (not a Citus local table)
}

// vacancyTables lists the tables of the schema that Vacancy's migrations made:
// all but golang-migrate's bookkeeping and River's job queue, which stay local
// to the coordinator. A table a migration creates on a distributed schema with a
// foreign key to a reference table is already in Citus's metadata, as a Citus
// local table (partition method n, replication model s): it still counts as not
// distributed.
func vacancyTables(ctx context.Context, conn *pgx.Conn) ([]table, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname,
		       EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organisation_id' AND NOT a.attisdropped),
		       EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = c.oid AND (p.partmethod = 'h' OR p.repmodel = 't'))
		FROM pg_class c
		WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind IN ('r', 'p')
		  AND c.relname <> 'schema_migrations' AND c.relname NOT LIKE 'river\_%'
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		err := r.Scan(&t.name, &t.tenant, &t.distributed)
		return t, err
	})
}

// distribute makes the schema of a Citus coordinator distributed, in one
// transaction: the reference tables, and every other Vacancy table, which must
// have organisation_id, distributed by it and colocated with one another, so
// that every query of one organisation runs on the one node that holds its
// shard. It does nothing on PostgreSQL without the citus extension, or when
// every table is distributed already; a table a later migration adds is
// distributed by the next `migrate up`.
//
// Citus takes foreign keys only between colocated distributed tables or to
// reference tables, and checks them as each table is distributed, so the keys
// touching a table about to be distributed are dropped first and added back at
// the end, when every table they join is distributed. Rows already in the tables
// (a single-node database moved onto the coordinator) are copied into the
// shards.
func distribute(ctx context.Context, conn *pgx.Conn) error {
	citus, err := hasCitus(ctx, conn)
	if err != nil || !citus {
		return err
	}
	tables, err := vacancyTables(ctx, conn)
	if err != nil {
		return err
	}
	var reference, tenant, pending []string
	anchor := "" // a distributed tenant table to colocate with
	for _, t := range tables {
		switch {
		case t.distributed && t.tenant && anchor == "" && !isReference(t.name):
			anchor = t.name
		case t.distributed:
		case isReference(t.name):
			reference = append(reference, t.name)
		case t.tenant:
			tenant = append(tenant, t.name)
		default:
			return fmt.Errorf("distribute table %s: it has no organisation_id and is not a pre-tenant table (dbmigrate.referenceTables)", t.name)
		}
		if !t.distributed {
			pending = append(pending, t.name)
		}
	}
	if len(pending) == 0 {
		return nil
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("distribute: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Foreign keys to reference tables in the transaction that creates them
	// need Citus's sequential mode.
	if _, err := tx.Exec(ctx, "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"); err != nil {
		return fmt.Errorf("distribute: %w", err)
	}
	type foreignKey struct{ Table, Name, Def string }
	rows, err := tx.Query(ctx, `SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
		FROM pg_constraint
		WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))
		ORDER BY conrelid::regclass::text, conname`, pending)
	if err != nil {
		return fmt.Errorf("distribute: list foreign keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[foreignKey])
	if err != nil {
		return fmt.Errorf("distribute: list foreign keys: %w", err)
	}
	for _, k := range keys {
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", k.Table, pgx.Identifier{k.Name}.Sanitize())); err != nil {
			return fmt.Errorf("distribute: drop foreign key %s of %s: %w", k.Name, k.Table, err)
		}
	}
	for _, t := range reference {
		if _, err := tx.Exec(ctx, "SELECT create_reference_table($1)", t); err != nil {
			return fmt.Errorf("distribute: reference table %s: %w", t, err)
		}
	}
	for _, t := range tenant {
		if anchor == "" {
			_, err = tx.Exec(ctx, "SELECT create_distributed_table($1, 'organisation_id')", t)
			anchor = t
		} else {
			_, err = tx.Exec(ctx, "SELECT create_distributed_table($1, 'organisation_id', colocate_with => $2)", t, anchor)
		}
		if err != nil {
			return fmt.Errorf("distribute: table %s by organisation_id: %w", t, err)
		}
	}
	for _, k := range keys {
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", k.Table, pgx.Identifier{k.Name}.Sanitize(), k.Def)); err != nil {
			return fmt.Errorf("distribute: foreign key %s of %s: %w", k.Name, k.Table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("distribute: %w", err)
	}
	// Distributing copies a table's rows into its shards and leaves the local
	// copy behind, hidden; remove it.
	for _, t := range pending {
		if _, err := conn.Exec(ctx, "SELECT truncate_local_data_after_distributing_table($1)", t); err != nil {
			return fmt.Errorf("distribute: remove the local rows of %s: %w", t, err)
		}
	}
	return nil
}

func isReference(name string) bool { return slices.Contains(referenceTables, name) }

// isDistributed reports whether any Vacancy table is in Citus's metadata.
func isDistributed(ctx context.Context, conn *pgx.Conn) (bool, error) {
	citus, err := hasCitus(ctx, conn)
	if err != nil || !citus {
		return false, err
	}
	tables, err := vacancyTables(ctx, conn)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.distributed {
			return true, nil
		}
	}
	return false, nil
}
