package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// routes lists the whole API surface, top to bottom, each route with the operation
// it runs: domain's access table says which role that needs.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders, s.cors)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", "no such resource"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here"))
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	// Calendar feeds: no API key (the secret token in the path is the credential).
	r.With(s.rateLimit).Get("/ical/{token}.ics", s.icalFeed)

	r.Route("/api/v3", func(r chi.Router) {
		r.Use(s.rateLimit, wellFormedQuery)
		r.Post("/organisations", s.createOrganisation)
		r.Route("/organisations/{org}", func(r chi.Router) {
			r.Use(s.authenticate, s.limitTenant, s.matchOrganisation)
			r.With(s.allow(domain.OpReadOrganisation)).Get("/", s.getOrganisation)

			r.With(s.allow(domain.OpCreateAPIKey)).Post("/api-keys", s.createAPIKey)
			r.With(s.allow(domain.OpListAPIKeys)).Get("/api-keys", s.listAPIKeys)
			r.With(s.allow(domain.OpRevokeAPIKey)).Delete("/api-keys/{keyID}", s.revokeAPIKey)

			r.With(s.allow(domain.OpCreateItem)).Post("/items", s.createItem)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items", s.listItems)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}", s.getItem)
			r.With(s.allow(domain.OpUpdateItem)).Patch("/items/{itemID}", s.updateItem)
			r.With(s.allow(domain.OpArchiveItem)).Delete("/items/{itemID}", s.archiveItem)
			r.With(s.allow(domain.OpSearchAvailability)).Get("/items/{itemID}/calendar", s.itemCalendar)
			r.With(s.allow(domain.OpCreateAddon)).Post("/items/{itemID}/addons", s.createAddon)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}/addons", s.listAddons)
			r.With(s.allow(domain.OpArchiveAddon)).Delete("/items/{itemID}/addons/{addonID}", s.archiveAddon)
			r.With(s.allow(domain.OpCreateBlock)).Post("/items/{itemID}/blocks", s.createBlock)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/blocks", s.listBlocks)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/blocks/{blockID}", s.getBlock)
			r.With(s.allow(domain.OpUpdateBlock)).Patch("/blocks/{blockID}", s.updateBlock)
			r.With(s.allow(domain.OpDeleteBlock)).Delete("/blocks/{blockID}", s.deleteBlock)
			r.With(s.allow(domain.OpCreateUnit)).Post("/items/{itemID}/units", s.createUnit)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}/units", s.listUnits)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}/units/{unitID}", s.getUnit)
			r.With(s.allow(domain.OpUpdateUnit)).Patch("/items/{itemID}/units/{unitID}", s.updateUnit)
			r.With(s.allow(domain.OpArchiveUnit)).Delete("/items/{itemID}/units/{unitID}", s.archiveUnit)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}/rates", s.getRates)
			r.With(s.allow(domain.OpReplaceRates)).Put("/items/{itemID}/rates", s.replaceRates)
			r.With(s.allow(domain.OpCreateRateRule)).Post("/items/{itemID}/rates", s.createRateRule)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/items/{itemID}/rates/{ruleID}", s.getRateRule)
			r.With(s.allow(domain.OpUpdateRateRule)).Patch("/items/{itemID}/rates/{ruleID}", s.updateRateRule)
			r.With(s.allow(domain.OpDeleteRateRule)).Delete("/items/{itemID}/rates/{ruleID}", s.deleteRateRule)
			r.With(s.allow(domain.OpCreateCharge)).Post("/charges", s.createCharge)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/charges", s.listCharges)
			r.With(s.allow(domain.OpReadCatalogue)).Get("/charges/{chargeID}", s.getCharge)
			r.With(s.allow(domain.OpUpdateCharge)).Patch("/charges/{chargeID}", s.updateCharge)
			r.With(s.allow(domain.OpDeleteCharge)).Delete("/charges/{chargeID}", s.deleteCharge)

			r.With(s.allow(domain.OpCreateProperty)).Post("/properties", s.createProperty)
			r.With(s.allow(domain.OpReadProperties)).Get("/properties", s.listProperties)
			r.With(s.allow(domain.OpReadProperties)).Get("/properties/{propertyID}", s.getProperty)
			r.With(s.allow(domain.OpUpdateProperty)).Patch("/properties/{propertyID}", s.updateProperty)
			r.With(s.allow(domain.OpArchiveProperty)).Delete("/properties/{propertyID}", s.archiveProperty)

			r.With(s.allow(domain.OpSearchAvailability)).Get("/availability", s.availability)
			r.With(s.allow(domain.OpQuote)).Post("/quotes", s.quote)

			r.With(s.allow(domain.OpCreateBooking)).Post("/bookings", s.createBooking)
			r.With(s.allow(domain.OpReadBookings)).Get("/bookings", s.listBookings)
			r.With(s.allow(domain.OpReadBookings)).Get("/bookings/{bookingID}", s.getBooking)
			r.With(s.allow(domain.OpUpdateBooking)).Patch("/bookings/{bookingID}", s.updateBooking)
			r.With(s.allow(domain.OpConfirmBooking)).Post("/bookings/{bookingID}/confirm", s.confirmBooking)
			r.With(s.allow(domain.OpCancelBooking)).Post("/bookings/{bookingID}/cancel", s.cancelBooking)
			r.With(s.allow(domain.OpCompleteBooking)).Post("/bookings/{bookingID}/complete", s.completeBooking)

			r.With(s.allow(domain.OpReadEvents)).Get("/events", s.listEvents)
			r.With(s.allow(domain.OpReadEvents)).Get("/events/stream", s.streamEvents)

			// Test mode only (a vac_test_ key); live keys get 404.
			r.With(testModeOnly, s.allow(domain.OpReadTestClock)).Get("/test-clock", s.getTestClock)
			r.With(testModeOnly, s.allow(domain.OpAdvanceTestClock)).Post("/test-clock/advance", s.advanceTestClock)
			r.With(testModeOnly, s.allow(domain.OpResetTestData)).Post("/test-data/reset", s.resetTestData)

			r.With(s.allow(domain.OpCreateWebhookEndpoint)).Post("/webhook-endpoints", s.createWebhookEndpoint)
			r.With(s.allow(domain.OpReadWebhooks)).Get("/webhook-endpoints", s.listWebhookEndpoints)
			r.With(s.allow(domain.OpReadWebhooks)).Get("/webhook-endpoints/{endpointID}", s.getWebhookEndpoint)
			r.With(s.allow(domain.OpUpdateWebhookEndpoint)).Patch("/webhook-endpoints/{endpointID}", s.updateWebhookEndpoint)
			r.With(s.allow(domain.OpDeleteWebhookEndpoint)).Delete("/webhook-endpoints/{endpointID}", s.deleteWebhookEndpoint)
			r.With(s.allow(domain.OpRotateWebhookSecret)).Post("/webhook-endpoints/{endpointID}/rotate-secret", s.rotateWebhookSecret)
			r.With(s.allow(domain.OpReadWebhooks)).Get("/webhook-endpoints/{endpointID}/deliveries", s.listWebhookDeliveries)
			r.With(s.allow(domain.OpRetryWebhookDelivery)).Post("/webhook-endpoints/{endpointID}/deliveries/{deliveryID}/retry", s.retryWebhookDelivery)

			r.With(s.allow(domain.OpCreateICalFeed)).Post("/items/{itemID}/ical-feeds", s.createICalFeed)
			r.With(s.allow(domain.OpReadICalFeeds)).Get("/items/{itemID}/ical-feeds", s.listICalFeeds)
			r.With(s.allow(domain.OpRevokeICalFeed)).Delete("/items/{itemID}/ical-feeds/{feedID}", s.revokeICalFeed)
			r.With(s.allow(domain.OpCreateCalendarImport)).Post("/items/{itemID}/calendar-imports", s.createCalendarImport)
			r.With(s.allow(domain.OpReadCalendarImports)).Get("/items/{itemID}/calendar-imports", s.listCalendarImports)
			r.With(s.allow(domain.OpReadCalendarImports)).Get("/items/{itemID}/calendar-imports/{importID}", s.getCalendarImport)
			r.With(s.allow(domain.OpUpdateCalendarImport)).Patch("/items/{itemID}/calendar-imports/{importID}", s.updateCalendarImport)
			r.With(s.allow(domain.OpDeleteCalendarImport)).Delete("/items/{itemID}/calendar-imports/{importID}", s.deleteCalendarImport)
			r.With(s.allow(domain.OpSyncCalendarImport)).Post("/items/{itemID}/calendar-imports/{importID}/sync", s.syncCalendarImport)
		})
	})
	return r
}
