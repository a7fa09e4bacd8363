package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
)

// endpoint is one operation under /api/v3/organisations/{org}, with what it takes
// to call it successfully. The role and tenant-isolation matrices run every one.
type endpoint struct {
	op     string // "METHOD /path/template", as in openapi.yaml
	role   string // the least role allowed
	status int    // the success status
	stream bool   // success is a text/event-stream (read with Client.Stream)
	// build arranges what the call needs in o (a fresh item, booking, key...) with
	// o's admin or write key, and returns the call.
	build func(t *testing.T, o *org) call
}

// call is one request of an endpoint.
type call struct {
	params map[string]string // path parameters other than org
	query  string
	body   any
	opts   []apitest.Option
	// observe, when set, snapshots the state the call would change; a refused call
	// must leave it as it was.
	observe func(t *testing.T) string
}

func (e endpoint) method() string { m, _, _ := strings.Cut(e.op, " "); return m }

// path fills the endpoint's template with org and c's parameters.
func (e endpoint) path(org string, c call) string {
	_, p, _ := strings.Cut(e.op, " ")
	p = strings.Replace(p, "{org}", org, 1)
	for k, v := range c.params {
		p = strings.Replace(p, "{"+k+"}", v, 1)
	}
	if c.query != "" {
		p += "?" + c.query
	}
	return p
}

const orgs = "/api/v3/organisations/{org}"

func endpoints() []endpoint {
	nothing := func(*testing.T, *org) call { return call{} }
	withItem := func(t *testing.T, o *org) (item, map[string]string) {
		it := o.newItem(t, "Room "+uniq(), 2, 10000)
		return it, map[string]string{"itemID": it.ID}
	}
	getItem := func(o *org, id string) func(t *testing.T) string {
		return func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/items/%s", id)).Expect(http.StatusOK).Body)
		}
	}
	withBooking := func(t *testing.T, o *org) (booking, call) {
		it := o.newItem(t, "Room "+uniq(), 2, 10000)
		b := o.newBooking(t, it.ID, day(10), day(12))
		return b, call{params: map[string]string{"bookingID": b.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/bookings/%s", b.ID)).Expect(http.StatusOK).Body)
		}}
	}
	withUnit := func(t *testing.T, o *org) (unit, call) {
		it, p := withItem(t, o)
		u := o.unitsOf(t, it.ID)[0]
		p["unitID"] = u.ID
		return u, call{params: p, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/items/%s/units/%s", it.ID, u.ID)).Expect(http.StatusOK).Body)
		}}
	}
	withProperty := func(t *testing.T, o *org) (property, call) {
		pr := o.newProperty(t, "Hotel "+uniq())
		return pr, call{params: map[string]string{"propertyID": pr.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/properties/%s", pr.ID)).Expect(http.StatusOK).Body)
		}}
	}
	withBlock := func(t *testing.T, o *org) (block, call) {
		it := o.newItem(t, "Room "+uniq(), 2, 10000)
		var b block
		o.as(t, "admin").Post(o.path("/items/%s/blocks", it.ID), map[string]any{"start": day(60), "end": day(61), "kind": "owner"}).
			Expect(http.StatusCreated).JSON(&b)
		return b, call{params: map[string]string{"blockID": b.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/blocks/%s", b.ID)).Expect(http.StatusOK).Body)
		}}
	}
	// withRule adds a rate rule to a fresh item; observe reads the item's whole rule set.
	withRule := func(t *testing.T, o *org) (rateRule, call) {
		it := o.newItem(t, "Room "+uniq(), 2, 10000)
		r := o.newRule(t, it.ID, map[string]any{"start": day(20), "end": day(30), "nightly_price": 12000})
		return r, call{params: map[string]string{"itemID": it.ID, "ruleID": r.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/items/%s/rates", it.ID)).Expect(http.StatusOK).Body)
		}}
	}
	withCharge := func(t *testing.T, o *org) (charge, call) {
		c := o.newCharge(t, map[string]any{"name": "City tax " + uniq(), "kind": "tax", "amount": 250, "per": "guest_night"})
		return c, call{params: map[string]string{"chargeID": c.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/charges/%s", c.ID)).Expect(http.StatusOK).Body)
		}}
	}
	countRows := func(o *org, query string, args ...any) func(t *testing.T) string {
		return func(t *testing.T) string { return strconv.Itoa(o.srv.Env.Superuser.Int(t, query, args...)) }
	}
	// withEndpoint registers a webhook endpoint for item.archived. (Other calls of the
	// matrix archive items too, so its delivery log grows while the matrix runs.)
	withEndpoint := func(t *testing.T, o *org) (webhookEndpoint, call) {
		ep := o.newEndpoint(t, "item.archived")
		return ep, call{params: map[string]string{"endpointID": ep.ID}, observe: func(t *testing.T) string {
			return string(o.as(t, "admin").Get(o.path("/webhook-endpoints/%s", ep.ID)).Expect(http.StatusOK).Body)
		}}
	}
	// withDelivery adds a delivery (of an item's archiving) that failed for good.
	withDelivery := func(t *testing.T, o *org) (webhookEndpoint, string, call) {
		ep, c := withEndpoint(t, o)
		it := o.newItem(t, "Room "+uniq(), 2, 10000)
		o.as(t, "admin").Delete(o.path("/items/%s", it.ID)).Expect(http.StatusOK)
		d := o.failDeliveries(t, ep.ID)[0]
		c.params["deliveryID"] = d
		c.observe = func(t *testing.T) string { // the delivery's state and its jobs
			return pgtest.Scalar[string](t, o.srv.Env.Superuser, `SELECT format('%s/%s/%s', status, attempts,
				(SELECT count(*) FROM river_job WHERE args->>'delivery_id' = $1)) FROM webhook_deliveries WHERE id::text = $1`, d)
		}
		return ep, d, c
	}
	return []endpoint{
		{op: "GET " + orgs, role: "read", status: http.StatusOK, build: nothing},

		{op: "POST " + orgs + "/api-keys", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			name := "key " + uniq()
			return call{body: map[string]any{"name": name, "role": "read"},
				observe: countRows(o, "SELECT count(*) FROM api_keys WHERE name = $1", name)}
		}},
		{op: "GET " + orgs + "/api-keys", role: "admin", status: http.StatusOK, build: nothing},
		{op: "DELETE " + orgs + "/api-keys/{keyID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			k := newKey(t, o.as(t, "admin"), o, "read")
			return call{params: map[string]string{"keyID": k.ID},
				observe: countRows(o, "SELECT count(*) FROM api_keys WHERE id = $1 AND revoked_at IS NULL", k.ID)}
		}},

		{op: "POST " + orgs + "/items", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			name := "Room " + uniq()
			return call{body: map[string]any{"name": name, "capacity": 2, "nightly_price": 9000},
				observe: countRows(o, "SELECT count(*) FROM items WHERE name = $1", name)}
		}},
		{op: "GET " + orgs + "/items", role: "read", status: http.StatusOK, build: nothing},
		{op: "GET " + orgs + "/items/{itemID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, p := withItem(t, o)
			return call{params: p}
		}},
		{op: "PATCH " + orgs + "/items/{itemID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"name": "Renamed"}, opts: []apitest.Option{apitest.IfMatch(etag(it.Version))},
				observe: getItem(o, it.ID)}
		}},
		{op: "DELETE " + orgs + "/items/{itemID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, observe: getItem(o, it.ID)}
		}},
		{op: "GET " + orgs + "/items/{itemID}/calendar", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, p := withItem(t, o)
			return call{params: p, query: "from=" + day(1) + "&to=" + day(8)}
		}},
		{op: "POST " + orgs + "/items/{itemID}/addons", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"name": "Breakfast", "price": 1500, "per": "night"},
				observe: countRows(o, "SELECT count(*) FROM addons WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/items/{itemID}/addons", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			o.newAddon(t, it.ID, "Breakfast", 1500, "night", 2)
			return call{params: p}
		}},
		{op: "DELETE " + orgs + "/items/{itemID}/addons/{addonID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			a := o.newAddon(t, it.ID, "Breakfast", 1500, "night", 2)
			p["addonID"] = a.ID
			return call{params: p, observe: countRows(o, "SELECT count(*) FROM addons WHERE id = $1 AND archived_at IS NULL", a.ID)}
		}},
		{op: "POST " + orgs + "/items/{itemID}/units", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"name": "Room " + uniq()},
				observe: countRows(o, "SELECT count(*) FROM units WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/items/{itemID}/units", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, p := withItem(t, o)
			return call{params: p}
		}},
		{op: "GET " + orgs + "/items/{itemID}/units/{unitID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withUnit(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/items/{itemID}/units/{unitID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			u, c := withUnit(t, o)
			c.body, c.opts = map[string]any{"name": "Renamed"}, []apitest.Option{apitest.IfMatch(etag(u.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/items/{itemID}/units/{unitID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withUnit(t, o)
			return c
		}},

		{op: "GET " + orgs + "/items/{itemID}/rates", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withRule(t, o)
			delete(c.params, "ruleID")
			c.observe = nil
			return c
		}},
		{op: "PUT " + orgs + "/items/{itemID}/rates", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withRule(t, o)
			delete(c.params, "ruleID")
			c.body = map[string]any{"rules": []any{map[string]any{"start": day(5), "end": day(12), "days": []string{"fri", "sat"}, "nightly_price": 15000}}}
			c.opts = []apitest.Option{apitest.IfMatch(etag(2))} // the set's version after one rule
			return c
		}},
		{op: "POST " + orgs + "/items/{itemID}/rates", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			_, c := withRule(t, o)
			delete(c.params, "ruleID")
			c.body = map[string]any{"start": day(40), "end": day(45), "min_nights": 2}
			return c
		}},
		{op: "GET " + orgs + "/items/{itemID}/rates/{ruleID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withRule(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/items/{itemID}/rates/{ruleID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			r, c := withRule(t, o)
			c.body, c.opts = map[string]any{"closed_to_arrival": true}, []apitest.Option{apitest.IfMatch(etag(r.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/items/{itemID}/rates/{ruleID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withRule(t, o)
			return c
		}},
		{op: "POST " + orgs + "/charges", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, _ := withItem(t, o)
			name := "Cleaning " + uniq()
			return call{body: map[string]any{"name": name, "kind": "fee", "amount": 4000, "taxable": true, "item_ids": []string{it.ID}},
				observe: countRows(o, "SELECT count(*) FROM charges WHERE name = $1", name)}
		}},
		{op: "GET " + orgs + "/charges", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			withCharge(t, o)
			return call{}
		}},
		{op: "GET " + orgs + "/charges/{chargeID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withCharge(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/charges/{chargeID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			ch, c := withCharge(t, o)
			c.body, c.opts = map[string]any{"amount": 300}, []apitest.Option{apitest.IfMatch(etag(ch.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/charges/{chargeID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withCharge(t, o)
			return c
		}},

		{op: "POST " + orgs + "/items/{itemID}/blocks", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"start": day(50), "end": day(52), "kind": "maintenance"},
				observe: countRows(o, "SELECT count(*) FROM blocks WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/blocks", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			withBlock(t, o)
			return call{}
		}},
		{op: "GET " + orgs + "/blocks/{blockID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withBlock(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/blocks/{blockID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			b, c := withBlock(t, o)
			c.body, c.opts = map[string]any{"reason": "repainting"}, []apitest.Option{apitest.IfMatch(etag(b.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/blocks/{blockID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withBlock(t, o)
			return c
		}},

		{op: "POST " + orgs + "/properties", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			name := "Hotel " + uniq()
			return call{body: map[string]any{"name": name, "address": map[string]any{"lines": []string{"1 Quay Street"}, "city": "Cork", "country_code": "IE"}},
				observe: countRows(o, "SELECT count(*) FROM properties WHERE name = $1", name)}
		}},
		{op: "GET " + orgs + "/properties", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			withProperty(t, o)
			return call{}
		}},
		{op: "GET " + orgs + "/properties/{propertyID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withProperty(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/properties/{propertyID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			pr, c := withProperty(t, o)
			c.body, c.opts = map[string]any{"name": "Renamed"}, []apitest.Option{apitest.IfMatch(etag(pr.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/properties/{propertyID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withProperty(t, o)
			return c
		}},

		{op: "GET " + orgs + "/availability", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			return call{query: "check_in=" + day(3) + "&check_out=" + day(5) + "&guests=2"}
		}},
		{op: "POST " + orgs + "/quotes", role: "write", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, _ := withItem(t, o)
			return call{body: map[string]any{"items": []any{map[string]any{"item_id": it.ID, "check_in": day(3), "check_out": day(5)}}}}
		}},

		{op: "POST " + orgs + "/bookings", role: "write", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, _ := withItem(t, o)
			return call{body: bookingBody(it.ID, day(3), day(5)),
				observe: countRows(o, "SELECT count(*) FROM booking_items WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/bookings", role: "read", status: http.StatusOK, build: nothing},
		{op: "GET " + orgs + "/bookings/{bookingID}", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withBooking(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/bookings/{bookingID}", role: "write", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			b, c := withBooking(t, o)
			c.body, c.opts = map[string]any{"notes": "late arrival"}, []apitest.Option{apitest.IfMatch(etag(b.Version))}
			return c
		}},
		{op: "POST " + orgs + "/bookings/{bookingID}/confirm", role: "write", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withBooking(t, o)
			c.body = map[string]any{"payment_reference": "pay_123"}
			return c
		}},
		{op: "POST " + orgs + "/bookings/{bookingID}/cancel", role: "write", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withBooking(t, o)
			c.body = map[string]any{"reason": "changed plans"}
			return c
		}},
		{op: "POST " + orgs + "/bookings/{bookingID}/complete", role: "write", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			b, c := withBooking(t, o)
			o.as(t, "write").Post(o.path("/bookings/%s/confirm", b.ID), nil).Expect(http.StatusOK)
			return c
		}},

		{op: "GET " + orgs + "/events", role: "read", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			o.newItem(t, "Room "+uniq(), 2, 10000)
			return call{query: "types=item.created,item.updated&limit=10"}
		}},
		{op: "GET " + orgs + "/events/stream", role: "read", status: http.StatusOK, stream: true, build: nothing},

		{op: "POST " + orgs + "/webhook-endpoints", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			desc := "hook " + uniq()
			return call{body: map[string]any{"url": publicHook, "description": desc, "event_types": []string{"item.archived"}},
				observe: countRows(o, "SELECT count(*) FROM webhook_endpoints WHERE description = $1", desc)}
		}},
		{op: "GET " + orgs + "/webhook-endpoints", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			withEndpoint(t, o)
			return call{}
		}},
		{op: "GET " + orgs + "/webhook-endpoints/{endpointID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withEndpoint(t, o)
			c.observe = nil
			return c
		}},
		{op: "PATCH " + orgs + "/webhook-endpoints/{endpointID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			ep, c := withEndpoint(t, o)
			c.body, c.opts = map[string]any{"enabled": false}, []apitest.Option{apitest.IfMatch(etag(ep.Version))}
			return c
		}},
		{op: "DELETE " + orgs + "/webhook-endpoints/{endpointID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withEndpoint(t, o)
			return c
		}},
		{op: "POST " + orgs + "/webhook-endpoints/{endpointID}/rotate-secret", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, c := withEndpoint(t, o)
			c.body = map[string]any{"overlap_seconds": 60}
			return c
		}},
		{op: "GET " + orgs + "/webhook-endpoints/{endpointID}/deliveries", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			_, _, c := withDelivery(t, o)
			delete(c.params, "deliveryID")
			c.observe = nil
			return c
		}},
		{op: "POST " + orgs + "/webhook-endpoints/{endpointID}/deliveries/{deliveryID}/retry", role: "admin", status: http.StatusAccepted,
			build: func(t *testing.T, o *org) call {
				_, _, c := withDelivery(t, o)
				return c
			}},

		{op: "POST " + orgs + "/items/{itemID}/ical-feeds", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"name": "Airbnb"},
				observe: countRows(o, "SELECT count(*) FROM ical_feeds WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/items/{itemID}/ical-feeds", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			o.newFeed(t, it.ID, nil)
			return call{params: p}
		}},
		{op: "DELETE " + orgs + "/items/{itemID}/ical-feeds/{feedID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			f := o.newFeed(t, it.ID, nil)
			p["feedID"] = f.ID
			return call{params: p, observe: countRows(o, "SELECT count(*) FROM ical_feeds WHERE id = $1 AND revoked_at IS NULL", f.ID)}
		}},
		{op: "POST " + orgs + "/items/{itemID}/calendar-imports", role: "admin", status: http.StatusCreated, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			return call{params: p, body: map[string]any{"url": publicFeed, "name": "Airbnb"},
				observe: countRows(o, "SELECT count(*) FROM calendar_imports WHERE item_id = $1", it.ID)}
		}},
		{op: "GET " + orgs + "/items/{itemID}/calendar-imports", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			o.newImport(t, it.ID)
			return call{params: p}
		}},
		{op: "GET " + orgs + "/items/{itemID}/calendar-imports/{importID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			p["importID"] = o.newImport(t, it.ID).ID
			return call{params: p}
		}},
		{op: "PATCH " + orgs + "/items/{itemID}/calendar-imports/{importID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			im := o.newImport(t, it.ID)
			p["importID"] = im.ID
			return call{params: p, body: map[string]any{"name": "Booking.com"}, opts: []apitest.Option{apitest.IfMatch(etag(im.Version))},
				observe: getImport(o, it.ID, im.ID)}
		}},
		{op: "DELETE " + orgs + "/items/{itemID}/calendar-imports/{importID}", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			im := o.newImport(t, it.ID)
			p["importID"] = im.ID
			return call{params: p, observe: getImport(o, it.ID, im.ID)}
		}},
		{op: "POST " + orgs + "/items/{itemID}/calendar-imports/{importID}/sync", role: "admin", status: http.StatusOK, build: func(t *testing.T, o *org) call {
			it, p := withItem(t, o)
			im := o.newImport(t, it.ID)
			// A loopback URL, which the server's default policy refuses when it dials:
			// the sync records the refusal and nothing leaves this machine.
			o.srv.Env.Superuser.Exec(t, "UPDATE calendar_imports SET url = 'https://127.0.0.1:9/calendar.ics' WHERE id = $1", im.ID)
			p["importID"] = im.ID
			return call{params: p, observe: getImport(o, it.ID, im.ID)}
		}},
	}
}

var roleRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// TestRoles calls every endpoint with a key of every role: a role below the
// endpoint's answers 403 forbidden and changes nothing; the others succeed.
func TestRoles(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "roles")
	for _, e := range endpoints() {
		for _, role := range []string{"admin", "write", "read"} {
			t.Run(e.op+" as "+role, func(t *testing.T) {
				t.Parallel()
				c := e.build(t, o)
				var before string
				if c.observe != nil {
					before = c.observe(t)
				}
				if e.stream && roleRank[role] >= roleRank[e.role] {
					s := o.as(t, role).Stream(e.path(o.Slug, c), c.opts...)
					s.Expect(e.status)
					s.Comment("stream open", 10*time.Second)
					return
				}
				res := o.as(t, role).Do(e.method(), e.path(o.Slug, c), c.body, c.opts...)
				if roleRank[role] >= roleRank[e.role] {
					res.Expect(e.status)
					return
				}
				p := res.Problem(http.StatusForbidden, "forbidden")
				if !strings.Contains(p.Detail, role) {
					t.Errorf("the 403 must say which role was refused; detail %q", p.Detail)
				}
				if c.observe != nil {
					if after := c.observe(t); after != before {
						t.Errorf("a refused %s must change nothing:\nbefore: %s\nafter:  %s", e.op, before, after)
					}
				}
			})
		}
	}
}

// TestTenantIsolation calls every endpoint on organisation A's resources with
// organisation B's admin key: by A's slug, by A's id, and on B's own path with A's
// resource ids. Each answer must be a 4xx identical (but for the echoed ids) to
// the answer about resources that do not exist at all, so B learns nothing of A,
// and A's resources must be unchanged.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	a := newOrg(t, srv, "tenant-a")
	b := newOrg(t, srv, "tenant-b")
	for _, e := range endpoints() {
		t.Run(e.op, func(t *testing.T) {
			t.Parallel()
			isolated(t, e, a, b, false)
		})
	}
}

// TestLiveTestIsolation is the tenant matrix between an organisation's live and
// test modes, both ways: a test key never reads or changes live data, and a live
// key never test data, on every endpoint.
func TestLiveTestIsolation(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	live := newOrg(t, srv, "modes")
	test := testModeOf(t, live)
	for _, e := range endpoints() {
		t.Run("test key, live data/"+e.op, func(t *testing.T) {
			t.Parallel()
			isolated(t, e, live, test, true)
		})
		t.Run("live key, test data/"+e.op, func(t *testing.T) {
			t.Parallel()
			isolated(t, e, test, live, true)
		})
	}
}

// isolated checks that b's requests about a's resources answer as if they did
// not exist and change nothing. twins are one organisation's live and test
// modes, which share a slug and a name.
func isolated(t *testing.T, e endpoint, a, b *org, twins bool) {
	c := e.build(t, a)
	var before string
	if c.observe != nil {
		before = c.observe(t)
	}
	asB := b.as(t, "admin")
	send := func(org string, c call) *apitest.Response {
		body := c.body
		opts := c.opts
		if body != nil {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(slices.Clone(opts), apitest.RawBody("application/json", raw))
			body = nil
		}
		return asB.Do(e.method(), e.path(org, c), body, opts...)
	}
	// same compares B's request about A's resources with the same request
	// about resources that do not exist.
	same := func(what string, got, missing *apitest.Response, subs map[string]string) {
		t.Helper()
		if got.Status != http.StatusNotFound && got.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 404 (or 422 for ids in the body); body: %s", what, got.Status, got.Body)
		}
		if got.Status != missing.Status {
			t.Errorf("%s: status %d, but %d for resources that do not exist", what, got.Status, missing.Status)
		}
		g, m := string(got.Body), string(missing.Body)
		for i, real := range slices.Sorted(maps.Keys(subs)) {
			placeholder := "<" + strconv.Itoa(i) + ">"
			g, m = strings.ReplaceAll(g, real, placeholder), strings.ReplaceAll(m, subs[real], placeholder)
		}
		if g != m {
			t.Errorf("%s: the answer must not differ from the answer about resources that do not exist:\n A's: %s\n none: %s", what, g, m)
		}
		secrets := []string{a.Name, a.ID, a.Slug}
		if twins {
			secrets = []string{a.ID} // twins share the slug and the name
		}
		for _, secret := range secrets {
			if strings.Contains(g, secret) {
				t.Errorf("%s: the answer reveals %q: %s", what, secret, g)
			}
		}
		if !slices.Equal(slices.Sorted(maps.Keys(got.Header)), slices.Sorted(maps.Keys(missing.Header))) {
			t.Errorf("%s: headers %v differ from %v", what, slices.Sorted(maps.Keys(got.Header)), slices.Sorted(maps.Keys(missing.Header)))
		}
	}

	if !twins { // twins share the slug: the slug is b's own
		nowhere := "no-such-org"
		same("A's slug", send(a.Slug, c), send(nowhere, c), map[string]string{a.Slug: nowhere})
	}
	noID := randomID()
	same("A's id", send(a.ID, c), send(noID, c), map[string]string{a.ID: noID})

	// B's own path, A's resource ids (in the path and in the body).
	subs := map[string]string{}
	for _, id := range c.params {
		subs[id] = randomID()
	}
	if raw, err := json.Marshal(c.body); err == nil {
		for _, id := range idsIn(string(raw)) {
			if _, ok := subs[id]; !ok {
				subs[id] = randomID()
			}
		}
	}
	if len(subs) > 0 {
		missing := c
		missing.params = map[string]string{}
		for k, v := range c.params {
			missing.params[k] = subs[v]
		}
		if c.body != nil {
			raw, _ := json.Marshal(c.body)
			s := string(raw)
			for real, gone := range subs {
				s = strings.ReplaceAll(s, real, gone)
			}
			var body any
			_ = json.Unmarshal([]byte(s), &body)
			missing.body = body
		}
		same("A's resource ids on B's path", send(b.Slug, c), send(b.Slug, missing), subs)
	}

	if c.observe != nil {
		if after := c.observe(t); after != before {
			t.Errorf("B's requests must not change A's resources:\nbefore: %s\nafter:  %s", before, after)
		}
	}
}

// idsIn finds the UUIDs in s.
func idsIn(s string) []string {
	var out []string
	for i := 0; i+36 <= len(s); i++ {
		c := s[i : i+36]
		if c[8] == '-' && c[13] == '-' && c[18] == '-' && c[23] == '-' && strings.Trim(strings.ReplaceAll(c, "-", ""), "0123456789abcdef") == "" {
			out = append(out, c)
			i += 35
		}
	}
	return out
}
