package booking_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// placement is where a shard lives.
type placement struct {
	Host string
	Port int
}

// TestFeedWhileTheTenantsShardMoves (Citus only): writers keep committing
// events in one organisation while its shard group moves from one worker to
// the other and back (citus_move_shard_placement), and is then isolated into
// shards of its own (isolate_tenant_to_new_shard). A consumer following the
// feed throughout reads every event exactly once, in position order, with
// positions 1..n: positions live in the organisation's own rows, which move
// with it.
//
// The first move copies with writes blocked ('block_writes'); the second
// replicates logically while writes go on ('force_logical'), which PostgreSQL
// refuses into tables whose row level security binds their owner (Citus's
// replication role acts as the owner), so FORCE is lifted for that move and
// put back after it, as docs/scaling.md tells operators. The isolation blocks
// writes too.
func TestFeedWhileTheTenantsShardMoves(t *testing.T) {
	testenv.RequireCitus(t)
	env := testenv.New(t)
	sc, _ := env.Organisation(t, "acme")
	admin := pgtest.Connect(t, env.URL)

	shardOf := func(ctx context.Context) (int64, placement, error) {
		var shard int64
		var p placement
		err := admin.QueryRow(ctx, `SELECT s.shardid, n.nodename, n.nodeport
			FROM pg_dist_shard s
			JOIN pg_dist_placement pl ON pl.shardid = s.shardid
			JOIN pg_dist_node n ON n.groupid = pl.groupid
			WHERE s.shardid = get_shard_id_for_distribution_column('events', $1::uuid)`, sc.OrganisationID).Scan(&shard, &p.Host, &p.Port)
		return shard, p, err
	}
	var log []string
	move := func(ctx context.Context, mode string) error {
		shard, from, err := shardOf(ctx)
		if err != nil {
			return fmt.Errorf("find the organisation's shard: %w", err)
		}
		var to placement
		if err := admin.QueryRow(ctx, `SELECT nodename, nodeport FROM pg_dist_node
			WHERE groupid <> 0 AND noderole = 'primary' AND isactive AND NOT (nodename = $1 AND nodeport = $2)
			ORDER BY nodeid LIMIT 1`, from.Host, from.Port).Scan(&to.Host, &to.Port); err != nil {
			return fmt.Errorf("find another worker: %w", err)
		}
		started := time.Now()
		if _, err := admin.Exec(ctx, `SELECT citus_move_shard_placement($1, $2, $3, $4, $5, shard_transfer_mode => $6::citus.shard_transfer_mode)`,
			shard, from.Host, from.Port, to.Host, to.Port, mode); err != nil {
			return fmt.Errorf("move shard %d from %v to %v (%s): %w", shard, from, to, mode, err)
		}
		if _, now, err := shardOf(ctx); err != nil || now != to {
			return fmt.Errorf("after the move shard %d must be on %v, is on %v (%v)", shard, to, now, err)
		}
		log = append(log, fmt.Sprintf("shard %d moved from :%d to :%d (%s) in %s",
			shard, from.Port, to.Port, mode, time.Since(started).Round(time.Millisecond)))
		return nil
	}
	// force sets FORCE ROW LEVEL SECURITY on or off, one table per transaction:
	// altering them all in one would hold every table's lock while waiting for
	// the next, which the running writers can deadlock with.
	force := func(ctx context.Context, on bool) error {
		verb := "NO FORCE"
		if on {
			verb = "FORCE"
		}
		rows, err := admin.Query(ctx, `SELECT p.logicalrelid::text FROM pg_dist_partition p
			JOIN pg_class c ON c.oid = p.logicalrelid WHERE c.relrowsecurity ORDER BY 1`)
		if err != nil {
			return err
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, table := range tables {
			if _, err := admin.Exec(ctx, "ALTER TABLE "+pgx.Identifier{table}.Sanitize()+" "+verb+" ROW LEVEL SECURITY"); err != nil {
				return fmt.Errorf("%s on %s: %w", verb, table, err)
			}
		}
		return nil
	}
	followFeed(t, env, sc, 4, 25, func(ctx context.Context) error {
		// Let the writers get going first.
		for n := 0; n < 20; {
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM events WHERE organisation_id = $1", sc.OrganisationID).Scan(&n); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := move(ctx, "block_writes"); err != nil {
			return err
		}
		if err := force(ctx, false); err != nil {
			return fmt.Errorf("lift FORCE ROW LEVEL SECURITY: %w", err)
		}
		err := move(ctx, "force_logical")
		if ferr := force(ctx, true); ferr != nil {
			return errors.Join(err, fmt.Errorf("put FORCE ROW LEVEL SECURITY back: %w", ferr))
		}
		if err != nil {
			return err
		}
		started := time.Now()
		var isolated int64
		if err := admin.QueryRow(ctx, `SELECT isolate_tenant_to_new_shard('events', $1::uuid, 'CASCADE', shard_transfer_mode => 'block_writes')`,
			sc.OrganisationID).Scan(&isolated); err != nil {
			return fmt.Errorf("isolate the organisation: %w", err)
		}
		if now, _, err := shardOf(ctx); err != nil || now != isolated {
			return fmt.Errorf("after isolating, the organisation's events must be in shard %d, are in %d (%v)", isolated, now, err)
		}
		log = append(log, fmt.Sprintf("organisation isolated into shard %d (block_writes) in %s", isolated, time.Since(started).Round(time.Millisecond)))
		return nil
	})
	for _, l := range log {
		t.Log(l)
	}
}
