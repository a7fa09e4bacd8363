package httpapi

import (
	"net/http"

	"github.com/vacancy-dev/vacancy/internal/rates"
)

// --- rate rules of items

func rateSetHeaders(h http.Header, set rates.RateSet) { h.Set("ETag", etag(set.Version)) }
func ruleHeaders(h http.Header, r rates.Rule)         { h.Set("ETag", etag(r.Version)) }

func (s *server) getRates(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	set, err := s.svc.GetRates(r.Context(), scopeFrom(r), itemID)
	query(s, w, r, set, err, rateSetHeaders)
}

func (s *server) replaceRates(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[rates.ReplaceRulesInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := rates.NewReplaceRules(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, rc, err := s.svc.ReplaceRules(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, set, rateSetHeaders)
}

func (s *server) createRateRule(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[rates.RuleInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := rates.NewCreateRule(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rule, rc, err := s.svc.CreateRule(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, rule, func(h http.Header, rule rates.Rule) {
		ruleHeaders(h, rule)
		h.Set("Location", r.URL.Path+"/"+rule.ID.String())
	})
}

func (s *server) getRateRule(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	ruleID, ok := pathID(w, r, "ruleID", "rate rule")
	if !ok {
		return
	}
	rule, err := s.svc.GetRule(r.Context(), scopeFrom(r), itemID, ruleID)
	query(s, w, r, rule, err, ruleHeaders)
}

func (s *server) updateRateRule(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	ruleID, ok := pathID(w, r, "ruleID", "rate rule")
	if !ok {
		return
	}
	in, ok := decode[rates.RuleInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := rates.NewUpdateRule(meta, itemID, ruleID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rule, rc, err := s.svc.UpdateRule(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, rule, ruleHeaders)
}

func (s *server) deleteRateRule(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	ruleID, ok := pathID(w, r, "ruleID", "rate rule")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	rule, rc, err := s.svc.DeleteRule(r.Context(), scopeFrom(r), rates.DeleteRule{Meta: meta, ItemID: itemID, RuleID: ruleID})
	respond(s, w, r, rc, err, http.StatusOK, rule, ruleHeaders)
}

// --- taxes and fees

func chargeHeaders(h http.Header, c rates.Charge) { h.Set("ETag", etag(c.Version)) }

func (s *server) createCharge(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[rates.ChargeInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := rates.NewCreateCharge(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, rc, err := s.svc.CreateCharge(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, c, func(h http.Header, c rates.Charge) {
		chargeHeaders(h, c)
		h.Set("Location", r.URL.Path+"/"+c.ID.String())
	})
}

func (s *server) listCharges(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	list, err := s.svc.ListCharges(r.Context(), scopeFrom(r), page)
	query(s, w, r, list, err, nil)
}

func (s *server) getCharge(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "chargeID", "charge")
	if !ok {
		return
	}
	c, err := s.svc.GetCharge(r.Context(), scopeFrom(r), id)
	query(s, w, r, c, err, chargeHeaders)
}

func (s *server) updateCharge(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "chargeID", "charge")
	if !ok {
		return
	}
	in, ok := decode[rates.ChargeInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := rates.NewUpdateCharge(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, rc, err := s.svc.UpdateCharge(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, c, chargeHeaders)
}

func (s *server) deleteCharge(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "chargeID", "charge")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	c, rc, err := s.svc.DeleteCharge(r.Context(), scopeFrom(r), rates.DeleteCharge{Meta: meta, ChargeID: id})
	respond(s, w, r, rc, err, http.StatusOK, c, chargeHeaders)
}
