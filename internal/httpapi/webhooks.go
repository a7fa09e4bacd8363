package httpapi

import (
	"net/http"

	"github.com/vacancy-dev/vacancy/internal/outbox"
)

func endpointHeaders(h http.Header, ep outbox.WebhookEndpoint) { h.Set("ETag", etag(ep.Version)) }

func (s *server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[outbox.WebhookEndpointInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := outbox.NewCreateWebhookEndpoint(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ep, rc, err := s.svc.CreateWebhookEndpoint(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, ep, func(h http.Header, ep outbox.WebhookEndpoint) {
		endpointHeaders(h, ep)
		h.Set("Location", r.URL.Path+"/"+ep.ID.String())
	})
}

func (s *server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	eps, err := s.svc.ListWebhookEndpoints(r.Context(), scopeFrom(r), page)
	query(s, w, r, eps, err, nil)
}

func (s *server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	ep, err := s.svc.GetWebhookEndpoint(r.Context(), scopeFrom(r), id)
	query(s, w, r, ep, err, endpointHeaders)
}

func (s *server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	in, ok := decode[outbox.WebhookEndpointInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := outbox.NewUpdateWebhookEndpoint(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ep, rc, err := s.svc.UpdateWebhookEndpoint(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, ep, endpointHeaders)
}

func (s *server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	ep, rc, err := s.svc.DeleteWebhookEndpoint(r.Context(), scopeFrom(r), outbox.DeleteWebhookEndpoint{Meta: meta, EndpointID: id})
	respond(s, w, r, rc, err, http.StatusOK, ep, nil)
}

func (s *server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	status, err := outbox.NewDeliveryStatus(r.URL.Query().Get("status"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ds, err := s.svc.ListWebhookDeliveries(r.Context(), scopeFrom(r), id, status, page)
	query(s, w, r, ds, err, nil)
}

func (s *server) retryWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	deliveryID, ok := pathID(w, r, "deliveryID", "webhook delivery")
	if !ok {
		return
	}
	if _, ok := decode[struct{}](w, r); !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	d, rc, err := s.svc.RetryWebhookDelivery(r.Context(), scopeFrom(r),
		outbox.RetryWebhookDelivery{Meta: meta, EndpointID: endpointID, DeliveryID: deliveryID})
	respond(s, w, r, rc, err, http.StatusAccepted, d, nil)
}

func (s *server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "endpointID", "webhook endpoint")
	if !ok {
		return
	}
	in, ok := decode[outbox.RotateSecretInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := outbox.NewRotateWebhookSecret(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ep, rc, err := s.svc.RotateWebhookSecret(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, ep, endpointHeaders)
}
