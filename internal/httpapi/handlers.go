package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// meta builds a command's metadata from the request: the Idempotency-Key, the
// actor, and If-Match (required when ifMatchRequired is true: 428 without it).
func (s *server) meta(w http.ResponseWriter, r *http.Request, ifMatchRequired bool) (command.Meta, bool) {
	expected, present, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "invalid_if_match", err.Error()))
		return command.Meta{}, false
	}
	if ifMatchRequired && !present {
		writeProblem(w, r, newProblem(http.StatusPreconditionRequired, "if_match_required",
			"send If-Match with the ETag of the version you are changing"))
		return command.Meta{}, false
	}
	m, err := command.NewMeta(r.Header.Get("Idempotency-Key"), scopeFrom(r).ActorID, expected, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return command.Meta{}, false
	}
	return m, true
}

// respond writes a command's outcome. A replayed outcome carries
// Idempotent-Replayed: true and is the same status and body as the first time.
func respond[T any](s *server, w http.ResponseWriter, r *http.Request, rc command.Receipt, err error, status int, v T, headers func(http.Header, T)) {
	if rc.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		s.metrics.IdempotentReplay(chi.RouteContext(r.Context()).RoutePattern())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if headers != nil {
		headers(w.Header(), v)
	}
	writeJSON(w, status, v)
}

// query writes a query's result or its problem.
func query[T any](s *server, w http.ResponseWriter, r *http.Request, v T, err error, headers func(http.Header, T)) {
	respond(s, w, r, command.Receipt{}, err, http.StatusOK, v, headers)
}

func (s *server) page(w http.ResponseWriter, r *http.Request) (domain.Page, bool) {
	limit, ok := s.parseLimit(w, r)
	if !ok {
		return domain.Page{}, false
	}
	p, err := domain.NewPage(limit, r.URL.Query().Get("cursor"))
	if err != nil {
		s.fail(w, r, err)
		return domain.Page{}, false
	}
	return p, true
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// --- organisations and API keys

func (s *server) createOrganisation(w http.ResponseWriter, r *http.Request) {
	if !s.isPlatform(r) {
		unauthorized(w, r)
		return
	}
	in, ok := decode[tenancy.CreateOrganisationInput](w, r)
	if !ok {
		return
	}
	meta, err := command.NewMeta(r.Header.Get("Idempotency-Key"), uuid.Nil, nil, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := tenancy.NewCreateOrganisation(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	org, rc, err := s.svc.CreateOrganisation(r.Context(), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, org, func(h http.Header, o tenancy.OrganisationWithKey) {
		h.Set("Location", "/api/v3/organisations/"+o.Slug)
	})
}

func (s *server) getOrganisation(w http.ResponseWriter, r *http.Request) {
	org, err := s.svc.GetOrganisation(r.Context(), scopeFrom(r))
	query(s, w, r, org, err, nil)
}

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[tenancy.CreateAPIKeyInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := tenancy.NewCreateAPIKey(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k, rc, err := s.svc.CreateAPIKey(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, k, nil)
}

func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	keys, err := s.svc.ListAPIKeys(r.Context(), scopeFrom(r), page)
	query(s, w, r, keys, err, nil)
}

func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "keyID", "api key")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	k, rc, err := s.svc.RevokeAPIKey(r.Context(), scopeFrom(r), tenancy.RevokeAPIKey{Meta: meta, KeyID: id})
	respond(s, w, r, rc, err, http.StatusOK, k, nil)
}

// --- catalogue

func itemHeaders(h http.Header, it catalogue.Item) { h.Set("ETag", etag(it.Version)) }

func (s *server) createItem(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[catalogue.ItemInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := catalogue.NewCreateItem(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	it, rc, err := s.svc.CreateItem(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, it, func(h http.Header, it catalogue.Item) {
		itemHeaders(h, it)
		h.Set("Location", r.URL.Path+"/"+it.ID.String())
	})
}

func (s *server) listItems(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	f, err := catalogue.NewItemFilter(r.URL.Query().Get("status"), r.URL.Query().Get("property_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.svc.ListItems(r.Context(), scopeFrom(r), f, page)
	query(s, w, r, items, err, nil)
}

func (s *server) getItem(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	it, err := s.svc.GetItem(r.Context(), scopeFrom(r), id)
	query(s, w, r, it, err, itemHeaders)
}

func (s *server) updateItem(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[catalogue.ItemInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := catalogue.NewUpdateItem(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	it, rc, err := s.svc.UpdateItem(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, it, itemHeaders)
}

func (s *server) archiveItem(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	it, rc, err := s.svc.ArchiveItem(r.Context(), scopeFrom(r), catalogue.ArchiveItem{Meta: meta, ItemID: id})
	respond(s, w, r, rc, err, http.StatusOK, it, itemHeaders)
}

func (s *server) itemCalendar(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	q := r.URL.Query()
	cal, err := s.svc.ItemCalendar(r.Context(), scopeFrom(r), id, q.Get("from"), q.Get("to"))
	query(s, w, r, cal, err, nil)
}

func (s *server) createAddon(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[catalogue.AddonInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := catalogue.NewCreateAddon(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, rc, err := s.svc.CreateAddon(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, a, nil)
}

func (s *server) listAddons(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	addons, err := s.svc.ListAddons(r.Context(), scopeFrom(r), itemID)
	query(s, w, r, addons, err, nil)
}

func (s *server) archiveAddon(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	addonID, ok := pathID(w, r, "addonID", "addon")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	a, rc, err := s.svc.ArchiveAddon(r.Context(), scopeFrom(r), catalogue.ArchiveAddon{Meta: meta, ItemID: itemID, AddonID: addonID})
	respond(s, w, r, rc, err, http.StatusOK, a, nil)
}

// --- availability and quotes

func (s *server) availability(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	aq, err := booking.NewAvailabilityQuery(booking.AvailabilityParams{CheckIn: q.Get("check_in"), CheckOut: q.Get("check_out"),
		Guests: q.Get("guests"), Quantity: q.Get("quantity"), PropertyID: q.Get("property_id"), Breakdown: q.Get("breakdown")}, page)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.Availability(r.Context(), scopeFrom(r), aq)
	query(s, w, r, res, err, nil)
}

func (s *server) quote(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[booking.QuoteInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := booking.NewQuote(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, rc, err := s.svc.Quote(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, res, nil)
}

// --- bookings

func bookingHeaders(h http.Header, b booking.Booking) { h.Set("ETag", etag(b.Version)) }

func (s *server) createBooking(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[booking.CreateBookingInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := booking.NewCreateBooking(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, rc, err := s.svc.CreateBooking(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, b, func(h http.Header, b booking.Booking) {
		bookingHeaders(h, b)
		h.Set("Location", r.URL.Path+"/"+b.ID.String())
	})
}

func (s *server) listBookings(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f, err := booking.NewBookingFilter(q.Get("status"), q.Get("item_id"), q.Get("from"), q.Get("to"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.ListBookings(r.Context(), scopeFrom(r), f, page)
	query(s, w, r, res, err, nil)
}

func (s *server) getBooking(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "bookingID", "booking")
	if !ok {
		return
	}
	b, err := s.svc.GetBooking(r.Context(), scopeFrom(r), id)
	query(s, w, r, b, err, bookingHeaders)
}

func (s *server) updateBooking(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "bookingID", "booking")
	if !ok {
		return
	}
	in, ok := decode[booking.UpdateBookingInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := booking.NewUpdateBooking(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, rc, err := s.svc.UpdateBooking(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, b, func(h http.Header, b booking.UpdatedBooking) { bookingHeaders(h, b.Booking) })
}

type transitionConstructor func(command.Meta, uuid.UUID, booking.TransitionInput) (booking.TransitionBooking, error)

func (s *server) transition(newCmd transitionConstructor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, "bookingID", "booking")
		if !ok {
			return
		}
		in, ok := decode[booking.TransitionInput](w, r)
		if !ok {
			return
		}
		meta, ok := s.meta(w, r, false)
		if !ok {
			return
		}
		cmd, err := newCmd(meta, id, in)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		b, rc, err := s.svc.TransitionBooking(r.Context(), scopeFrom(r), cmd)
		respond(s, w, r, rc, err, http.StatusOK, b, bookingHeaders)
	}
}

func (s *server) confirmBooking(w http.ResponseWriter, r *http.Request) {
	s.transition(booking.NewConfirmBooking)(w, r)
}

func (s *server) cancelBooking(w http.ResponseWriter, r *http.Request) {
	s.transition(booking.NewCancelBooking)(w, r)
}

func (s *server) completeBooking(w http.ResponseWriter, r *http.Request) {
	s.transition(booking.NewCompleteBooking)(w, r)
}
