package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tenant is an organisation as a client sees it: its slug and an admin key.
type tenant struct {
	sc   scope.Scope
	slug string
	key  string
}

func newTenant(t testing.TB, env *testenv.Env, slug string) tenant {
	t.Helper()
	sc, key := env.Organisation(t, slug)
	return tenant{sc: sc, slug: slug, key: key}
}

// addItem creates an item through the domain.
func addItem(t testing.TB, svc *service.Services, sc scope.Scope, name string) uuid.UUID {
	t.Helper()
	price, capacity, maxNights := int64(10000), int32(4), int32(30)
	meta, err := command.NewMeta("", sc.ActorID, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := catalogue.NewCreateItem(meta, catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price, MaxNights: &maxNights})
	if err != nil {
		t.Fatalf("create item command: %v", err)
	}
	it, _, err := svc.CreateItem(context.Background(), sc, cmd)
	if err != nil {
		t.Fatalf("create item: %v", err)
	}
	return it.ID
}

// serve runs the real HTTP API over svc on a loopback port.
func serve(t testing.TB, svc *service.Services, timeout time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Service: svc, RequestTimeout: timeout,
		Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// client is one tenant's view of the API: apitest's client with the tenant's
// key, for paths under its organisation.
type client struct {
	*apitest.Client
	org string // /api/v3/organisations/<slug>
}

// newClient returns a client for the tenant that gives up after timeout. It does
// not check exchanges against the contract: these tests measure answers under
// load and faults (the checks would add their CPU time to every latency) and
// send hostile input on purpose, and they check the answers and what is stored
// themselves.
func newClient(t testing.TB, base string, tn tenant, timeout time.Duration) *client {
	c := apitest.NewClient(t, base).As(tn.key).
		Unchecked("load, faults and hostile input: the reliability tests check answers and storage themselves").
		Using(&http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}})
	return &client{Client: c, org: "/api/v3/organisations/" + tn.slug}
}

// do sends a request to path under the tenant's organisation; transport
// failures are returned, never reported.
func (c *client) do(ctx context.Context, method, path string, body any, opts ...apitest.Option) (*apitest.Response, error) {
	return c.Send(ctx, method, c.org+path, body, opts...)
}

// bookingRequest is the body of POST /bookings for one stay.
func bookingRequest(item uuid.UUID, in, out time.Time) map[string]any {
	return map[string]any{
		"guest": map[string]string{"name": "Reliability Guest", "email": "guest@example.com"},
		"items": []map[string]string{{"item_id": item.String(), "check_in": day(in), "check_out": day(out)}},
	}
}

// bookingBody is the part of a booking response the tests check.
type bookingBody struct {
	ID      uuid.UUID `json:"id"`
	Status  string    `json:"status"`
	Version int32     `json:"version"`
	Items   []struct {
		ItemID   uuid.UUID `json:"item_id"`
		CheckIn  string    `json:"check_in"`
		CheckOut string    `json:"check_out"`
	} `json:"items"`
}

// decodeBooking reads a booking response; it reports a malformed one with
// t.Errorf, so it may be called from any goroutine.
func decodeBooking(t testing.TB, r *apitest.Response) bookingBody {
	t.Helper()
	var b bookingBody
	if err := json.Unmarshal(r.Body, &b); err != nil || b.ID == uuid.Nil {
		t.Errorf("a %d response must carry a booking: %v: %s", r.Status, err, r.Body)
	}
	return b
}

func day(t time.Time) string { return t.Format("2006-01-02") }

// today is the UTC date (the test organisations use UTC).
func today() time.Time {
	y, m, d := time.Now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// activeOverlaps counts pairs of active booking items of one item whose stays
// overlap: the double bookings that must never exist.
const activeOverlaps = `
SELECT count(*) FROM booking_items a
JOIN booking_items b ON a.organisation_id = b.organisation_id AND a.item_id = b.item_id
     AND a.id < b.id AND a.date_range && b.date_range
WHERE a.status IN ('unpaid', 'paid', 'complete') AND b.status IN ('unpaid', 'paid', 'complete')`

// checkIntegrity asserts what must hold after any storm, fault or crash: no
// double booking, nothing half-written, every booking's creation in the outbox
// exactly once, and booking items agreeing with their booking's status.
func checkIntegrity(t testing.TB, db *pgtest.DB) {
	t.Helper()
	checks := []struct{ what, sql string }{
		{"overlapping active booking items of one item (a double booking)", activeOverlaps},
		{"bookings without booking items (half-written)", `SELECT count(*) FROM bookings b WHERE NOT EXISTS (
			SELECT 1 FROM booking_items bi WHERE bi.organisation_id = b.organisation_id AND bi.booking_id = b.id)`},
		{"bookings without exactly one booking.created event", `SELECT count(*) FROM bookings b WHERE (
			SELECT count(*) FROM events e WHERE e.organisation_id = b.organisation_id AND e.type = 'booking.created'
			AND e.data->>'id' = b.id::text) <> 1`},
		{"booking.created events without their booking", `SELECT count(*) FROM events e WHERE e.type = 'booking.created'
			AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.organisation_id = e.organisation_id AND b.id::text = e.data->>'id')`},
		{"booking items whose status differs from their booking's", `SELECT count(*) FROM booking_items bi
			JOIN bookings b ON b.organisation_id = bi.organisation_id AND b.id = bi.booking_id WHERE b.status <> bi.status`},
		{"overlapping active occupancies of one unit (a double booking)", `SELECT count(*) FROM occupancies a
			JOIN occupancies b ON a.organisation_id = b.organisation_id AND a.unit_id = b.unit_id
			     AND a.id < b.id AND a.date_range && b.date_range
			WHERE a.status IN ('unpaid', 'paid', 'complete', 'blocked') AND b.status IN ('unpaid', 'paid', 'complete', 'blocked')`},
		{"booking items that occupy other than quantity units", `SELECT count(*) FROM booking_items bi WHERE bi.quantity <> (
			SELECT count(*) FROM occupancies o WHERE o.organisation_id = bi.organisation_id AND o.booking_item_id = bi.id)`},
		{"occupancies whose status differs from their booking's", `SELECT count(*) FROM occupancies o
			JOIN bookings b ON b.organisation_id = o.organisation_id AND b.id = o.booking_id WHERE b.status <> o.status`},
		{"booking.created events without a finished command", `SELECT count(*) FROM events e WHERE e.type = 'booking.created'
			AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.organisation_id = e.organisation_id AND c.id = e.command_id
			AND c.state = 'done' AND c.outcome = 'ok')`},
	}
	for _, c := range checks {
		if n := db.Int(t, c.sql); n != 0 {
			t.Errorf("found %d %s", n, c.what)
		}
	}
}

// tableCounts snapshots the row count of every table of the schema.
func tableCounts(t testing.TB, db *pgtest.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"organisations", "api_keys", "items", "addons", "bookings", "booking_items",
		"booking_item_addons", "events"} {
		out[table] = db.Int(t, fmt.Sprintf("SELECT count(*) FROM %s", pgx.Identifier{table}.Sanitize()))
	}
	// A rejected command is recorded with its outcome (that is what makes a retry
	// replay the rejection); only successful commands count as changes.
	out["commands (ok)"] = db.Int(t, "SELECT count(*) FROM commands WHERE outcome = 'ok'")
	return out
}
