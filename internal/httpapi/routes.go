package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vacancy-dev/vacancy/internal/scope"
)

// routes lists the whole API surface, top to bottom.
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

	r.Route("/api/v3", func(r chi.Router) {
		r.Use(s.rateLimit)
		r.Post("/organisations", s.createOrganisation)
		r.Route("/organisations/{org}", func(r chi.Router) {
			r.Use(s.authenticate, s.matchOrganisation)
			read, write, admin := needs(scope.RoleRead), needs(scope.RoleWrite), needs(scope.RoleAdmin)

			r.With(read).Get("/", s.getOrganisation)

			r.With(admin).Post("/api-keys", s.createAPIKey)
			r.With(admin).Get("/api-keys", s.listAPIKeys)
			r.With(admin).Delete("/api-keys/{keyID}", s.revokeAPIKey)

			r.With(admin).Post("/items", s.createItem)
			r.With(read).Get("/items", s.listItems)
			r.With(read).Get("/items/{itemID}", s.getItem)
			r.With(admin).Patch("/items/{itemID}", s.updateItem)
			r.With(admin).Delete("/items/{itemID}", s.archiveItem)
			r.With(read).Get("/items/{itemID}/calendar", s.itemCalendar)
			r.With(admin).Post("/items/{itemID}/addons", s.createAddon)
			r.With(read).Get("/items/{itemID}/addons", s.listAddons)
			r.With(admin).Delete("/items/{itemID}/addons/{addonID}", s.archiveAddon)

			r.With(read).Get("/availability", s.availability)
			r.With(write).Post("/quotes", s.quote)

			r.With(write).Post("/bookings", s.createBooking)
			r.With(read).Get("/bookings", s.listBookings)
			r.With(read).Get("/bookings/{bookingID}", s.getBooking)
			r.With(write).Patch("/bookings/{bookingID}", s.updateBooking)
			r.With(write).Post("/bookings/{bookingID}/confirm", s.confirmBooking)
			r.With(write).Post("/bookings/{bookingID}/cancel", s.cancelBooking)
			r.With(write).Post("/bookings/{bookingID}/complete", s.completeBooking)

			r.With(read).Get("/events", s.listEvents)
			r.With(read).Get("/events/stream", s.streamEvents)

			r.With(admin).Post("/webhook-endpoints", s.createWebhookEndpoint)
			r.With(admin).Get("/webhook-endpoints", s.listWebhookEndpoints)
			r.With(admin).Get("/webhook-endpoints/{endpointID}", s.getWebhookEndpoint)
			r.With(admin).Patch("/webhook-endpoints/{endpointID}", s.updateWebhookEndpoint)
			r.With(admin).Delete("/webhook-endpoints/{endpointID}", s.deleteWebhookEndpoint)
			r.With(admin).Get("/webhook-endpoints/{endpointID}/deliveries", s.listWebhookDeliveries)
			r.With(admin).Post("/webhook-endpoints/{endpointID}/deliveries/{deliveryID}/retry", s.retryWebhookDelivery)
		})
	})
	return r
}
