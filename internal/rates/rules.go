package rates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Rule is a rate rule: for the nights of [Start, End) that fall on Days (nil:
// every day), it sets the fields that are not nil. Where rules overlap, the one
// created last wins for each field it sets; the item's own fields are the
// default of every night.
type Rule struct {
	ID                uuid.UUID   `json:"id"`
	ItemID            uuid.UUID   `json:"item_id"`
	Start             domain.Date `json:"start"`
	End               domain.Date `json:"end"`
	Days              []string    `json:"days"`
	NightlyPrice      *int64      `json:"nightly_price"`
	MinNights         *int32      `json:"min_nights"`
	MaxNights         *int32      `json:"max_nights"`
	ClosedToArrival   *bool       `json:"closed_to_arrival"`
	ClosedToDeparture *bool       `json:"closed_to_departure"`
	Closed            *bool       `json:"closed"`
	Version           int32       `json:"version"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

// RateSet is all of an item's rules, oldest first (a later rule wins). Version
// counts changes to the set: it is the ETag that PUT's If-Match compares with.
type RateSet struct {
	ItemID  uuid.UUID `json:"item_id"`
	Version int32     `json:"version"`
	Rules   []Rule    `json:"rules"`
}

// Limits of rules.
const (
	MaxRules = 500 // per item
	// Horizon is how far ahead rules reach: a rule ends at most 3 years after today.
	HorizonYears = 3
	// A rule may have started up to a year ago (GET then PUT sends it back as it
	// was); the nights before today are never sold anyway.
	maxPastDays = 366
)

// dayNames are the days of the week as the API writes them, by ISO number - 1.
var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func ruleFromRow(r db.RateRule) Rule {
	out := Rule{ID: r.ID, ItemID: r.ItemID, Start: domain.DateFromTime(r.StartDate), End: domain.DateFromTime(r.EndDate),
		NightlyPrice: r.NightlyPrice, MinNights: r.MinNights, MaxNights: r.MaxNights, ClosedToArrival: r.ClosedToArrival,
		ClosedToDeparture: r.ClosedToDeparture, Closed: r.Closed, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Days != nil {
		out.Days = make([]string, len(r.Days))
		for i, d := range r.Days {
			out.Days[i] = dayNames[d-1]
		}
	}
	return out
}

// RuleInput is a rule as clients send it: the body of POST and of each rule of
// PUT (start and end required), and of PATCH (absent fields stay, null clears).
type RuleInput struct {
	Start             *string         `json:"start"`
	End               *string         `json:"end"`
	Days              Field[[]string] `json:"days,omitzero"`
	NightlyPrice      Field[int64]    `json:"nightly_price,omitzero"`
	MinNights         Field[int32]    `json:"min_nights,omitzero"`
	MaxNights         Field[int32]    `json:"max_nights,omitzero"`
	ClosedToArrival   Field[bool]     `json:"closed_to_arrival,omitzero"`
	ClosedToDeparture Field[bool]     `json:"closed_to_departure,omitzero"`
	Closed            Field[bool]     `json:"closed,omitzero"`
}

// RuleFields are a rule's fields after validation.
type RuleFields struct {
	Start             domain.Date `json:"start"`
	End               domain.Date `json:"end"`
	Days              []int16     `json:"days"` // ISO numbers, 1 = Monday, ascending; nil: every day
	NightlyPrice      *int64      `json:"nightly_price"`
	MinNights         *int32      `json:"min_nights"`
	MaxNights         *int32      `json:"max_nights"`
	ClosedToArrival   *bool       `json:"closed_to_arrival"`
	ClosedToDeparture *bool       `json:"closed_to_departure"`
	Closed            *bool       `json:"closed"`
}

func fieldsFromRow(r db.RateRule) RuleFields {
	return RuleFields{Start: domain.DateFromTime(r.StartDate), End: domain.DateFromTime(r.EndDate), Days: r.Days,
		NightlyPrice: r.NightlyPrice, MinNights: r.MinNights, MaxNights: r.MaxNights, ClosedToArrival: r.ClosedToArrival,
		ClosedToDeparture: r.ClosedToDeparture, Closed: r.Closed}
}

// apply overlays in on f, reporting problems under prefix (e.g. "rules[2]." or "").
func (f RuleFields) apply(p *domain.Problems, prefix string, in RuleInput, creating bool) RuleFields {
	if creating && in.Start == nil {
		p.Add(prefix+"start", "required", "start is required")
	}
	if creating && in.End == nil {
		p.Add(prefix+"end", "required", "end is required")
	}
	datesOK := true
	if in.Start != nil {
		d, err := domain.ParseDate(*in.Start)
		if err != nil {
			p.Add(prefix+"start", "invalid", "%s", err.Error())
			datesOK = false
		}
		f.Start = d
	}
	if in.End != nil {
		d, err := domain.ParseDate(*in.End)
		if err != nil {
			p.Add(prefix+"end", "invalid", "%s", err.Error())
			datesOK = false
		}
		f.End = d
	}
	if datesOK && !f.Start.IsZero() && !f.End.IsZero() && !f.Start.Before(f.End) {
		p.Add(prefix+"end", "before_start", "end must be after start: a rule covers the nights of [start, end)")
		datesOK = false
	}
	if in.Days.Set {
		f.Days = nil
		if in.Days.Value != nil {
			f.Days = parseDays(p, prefix+"days", *in.Days.Value)
		}
	}
	f.NightlyPrice = in.NightlyPrice.or(f.NightlyPrice)
	if f.NightlyPrice != nil && (*f.NightlyPrice < 0 || *f.NightlyPrice > catalogue.MaxPrice) {
		p.Add(prefix+"nightly_price", "out_of_range", "nightly_price must be between 0 and %d minor units", int64(catalogue.MaxPrice))
	}
	f.MinNights, f.MaxNights = in.MinNights.or(f.MinNights), in.MaxNights.or(f.MaxNights)
	for _, n := range []struct {
		name string
		v    *int32
	}{{"min_nights", f.MinNights}, {"max_nights", f.MaxNights}} {
		if n.v != nil && (*n.v < 1 || *n.v > catalogue.MaxNights) {
			p.Add(prefix+n.name, "out_of_range", "%s must be between 1 and %d", n.name, catalogue.MaxNights)
		}
	}
	if f.MinNights != nil && f.MaxNights != nil && *f.MaxNights < *f.MinNights {
		p.Add(prefix+"max_nights", "out_of_range", "max_nights must not be less than min_nights")
	}
	f.ClosedToArrival = in.ClosedToArrival.or(f.ClosedToArrival)
	f.ClosedToDeparture = in.ClosedToDeparture.or(f.ClosedToDeparture)
	f.Closed = in.Closed.or(f.Closed)
	if f.NightlyPrice == nil && f.MinNights == nil && f.MaxNights == nil && f.ClosedToArrival == nil &&
		f.ClosedToDeparture == nil && f.Closed == nil {
		p.Add(prefix+"nightly_price", "sets_nothing",
			"a rule sets at least one of nightly_price, min_nights, max_nights, closed_to_arrival, closed_to_departure, closed")
	}
	if datesOK && f.Days != nil && !f.Start.IsZero() && !f.End.IsZero() && !coversADay(f) {
		p.Add(prefix+"days", "no_nights", "none of the nights of [%s, %s) falls on these days", f.Start, f.End)
	}
	return f
}

// parseDays reads days of the week, as mon..sun, each at most once.
func parseDays(p *domain.Problems, field string, names []string) []int16 {
	if len(names) == 0 {
		p.Add(field, "empty", "days lists at least one day; leave it out (or null) for every day")
		return nil
	}
	var out []int16
	for i, n := range names {
		d := slices.Index(dayNames, n)
		switch {
		case d < 0:
			p.Add(fmt.Sprintf("%s[%d]", field, i), "invalid", "a day is one of mon, tue, wed, thu, fri, sat, sun")
		case slices.Contains(out, int16(d+1)):
			p.Add(fmt.Sprintf("%s[%d]", field, i), "duplicate", "%s is listed twice", n)
		default:
			out = append(out, int16(d+1))
		}
	}
	slices.Sort(out)
	return out
}

// isoDay is the ISO day of the week of d: 1 for Monday to 7 for Sunday.
func isoDay(d domain.Date) int16 {
	wd := d.Time().Weekday()
	if wd == time.Sunday {
		return 7
	}
	return int16(wd)
}

// coversADay reports whether some night of the rule falls on one of its days.
func coversADay(f RuleFields) bool {
	for d := f.Start; d.Before(f.End) && d.Before(f.Start.AddDays(7)); d = d.AddDays(1) {
		if slices.Contains(f.Days, isoDay(d)) {
			return true
		}
	}
	return false
}

// checkWindow holds a rule's sent dates to the window rules may cover: ending
// after today, at most three years ahead, and starting no more than a year ago.
func checkWindow(p *domain.Problems, prefix string, f RuleFields, today domain.Date, start, end bool) {
	horizon := domain.DateFromTime(today.Time().AddDate(HorizonYears, 0, 0))
	if end && !today.Before(f.End) {
		p.Add(prefix+"end", "in_past", "end %s is not after today (%s): the rule would cover no night from today on", f.End, today)
	}
	if end && horizon.Before(f.End) {
		p.Add(prefix+"end", "too_far_ahead", "rules reach at most %d years ahead: end must be on or before %s", HorizonYears, horizon)
	}
	if start && f.Start.Before(today.AddDays(-maxPastDays)) {
		p.Add(prefix+"start", "in_past", "start must be on or after %s", today.AddDays(-maxPastDays))
	}
}

func ruleParams(f RuleFields) (start, end time.Time) { return f.Start.Time(), f.End.Time() }

// CreateRule adds a rule to an item.
type CreateRule struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID  `json:"item_id"`
	Rule         RuleFields `json:"rule"`
}

// NewCreateRule validates in.
func NewCreateRule(meta command.Meta, itemID uuid.UUID, in RuleInput) (CreateRule, error) {
	var p domain.Problems
	f := RuleFields{}.apply(&p, "", in, true)
	return CreateRule{Meta: meta, ItemID: itemID, Rule: f}, p.Err()
}

// CreateRule handles CreateRule.
func (s *Rates) CreateRule(ctx context.Context, sc scope.Scope, cmd CreateRule) (Rule, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateRateRule, cmd, func(q *db.Queries) (Rule, []domain.Event, error) {
		c, _, err := beginRateChange(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Rule{}, nil, err
		}
		var p domain.Problems
		checkWindow(&p, "", cmd.Rule, c.Today, true, true)
		if err := p.Err(); err != nil {
			return Rule{}, nil, err
		}
		n, err := q.CountRateRules(ctx, db.CountRateRulesParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID})
		if err != nil {
			return Rule{}, nil, fmt.Errorf("count rate rules: %w", err)
		}
		if n >= MaxRules {
			return Rule{}, nil, domain.Conflict(domain.CodeRateRuleLimit, "item %s has %d rate rules, the most it may have", cmd.ItemID, MaxRules)
		}
		f := cmd.Rule
		start, end := ruleParams(f)
		row, err := q.InsertRateRule(ctx, db.InsertRateRuleParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: cmd.ItemID, StartDate: start, EndDate: end, Days: f.Days, NightlyPrice: f.NightlyPrice,
			MinNights: f.MinNights, MaxNights: f.MaxNights, ClosedToArrival: f.ClosedToArrival,
			ClosedToDeparture: f.ClosedToDeparture, Closed: f.Closed})
		if err != nil {
			return Rule{}, nil, fmt.Errorf("insert rate rule: %w", err)
		}
		ev, err := ratesChanged(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Rule{}, nil, err
		}
		return ruleFromRow(row), []domain.Event{ev}, nil
	})
}

// UpdateRule changes a rule (PATCH semantics). ExpectedVersion is the rule's.
type UpdateRule struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	RuleID       uuid.UUID `json:"rule_id"`
	Input        RuleInput `json:"input"`
}

// NewUpdateRule checks what can be checked without the current rule.
func NewUpdateRule(meta command.Meta, itemID, ruleID uuid.UUID, in RuleInput) (UpdateRule, error) {
	var p domain.Problems
	one := int32(1)
	// Over a stand-in rule, so only in's own faults show; how in combines with
	// the current rule is checked when the command runs.
	RuleFields{MinNights: &one}.apply(&p, "", in, false)
	var kept domain.Problems
	for _, f := range p {
		if f.Code != "before_start" && f.Code != "no_nights" && f.Code != "sets_nothing" {
			kept = append(kept, f)
		}
	}
	return UpdateRule{Meta: meta, ItemID: itemID, RuleID: ruleID, Input: in}, kept.Err()
}

// UpdateRule handles UpdateRule.
func (s *Rates) UpdateRule(ctx context.Context, sc scope.Scope, cmd UpdateRule) (Rule, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateRateRule, cmd, func(q *db.Queries) (Rule, []domain.Event, error) {
		c, _, err := beginRateChange(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Rule{}, nil, err
		}
		cur, err := getRule(ctx, q, sc, cmd.ItemID, cmd.RuleID)
		if err != nil {
			return Rule{}, nil, err
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return Rule{}, nil, err
		}
		var p domain.Problems
		f := fieldsFromRow(cur).apply(&p, "", cmd.Input, false)
		if p.Err() == nil {
			checkWindow(&p, "", f, c.Today, cmd.Input.Start != nil, cmd.Input.End != nil)
		}
		if err := p.Err(); err != nil {
			return Rule{}, nil, err
		}
		start, end := ruleParams(f)
		row, err := q.UpdateRateRule(ctx, db.UpdateRateRuleParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID, ID: cmd.RuleID,
			StartDate: start, EndDate: end, Days: f.Days, NightlyPrice: f.NightlyPrice, MinNights: f.MinNights,
			MaxNights: f.MaxNights, ClosedToArrival: f.ClosedToArrival, ClosedToDeparture: f.ClosedToDeparture, Closed: f.Closed})
		if err != nil {
			return Rule{}, nil, fmt.Errorf("update rate rule: %w", err)
		}
		ev, err := ratesChanged(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Rule{}, nil, err
		}
		return ruleFromRow(row), []domain.Event{ev}, nil
	})
}

// DeleteRule removes a rule. ExpectedVersion, when set, is the rule's.
type DeleteRule struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	RuleID       uuid.UUID `json:"rule_id"`
}

// DeleteRule handles DeleteRule; the answer is the rule as it was.
func (s *Rates) DeleteRule(ctx context.Context, sc scope.Scope, cmd DeleteRule) (Rule, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpDeleteRateRule, cmd, func(q *db.Queries) (Rule, []domain.Event, error) {
		if _, _, err := beginRateChange(ctx, q, sc, cmd.ItemID); err != nil {
			return Rule{}, nil, err
		}
		cur, err := getRule(ctx, q, sc, cmd.ItemID, cmd.RuleID)
		if err != nil {
			return Rule{}, nil, err
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return Rule{}, nil, err
		}
		row, err := q.DeleteRateRule(ctx, db.DeleteRateRuleParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID, ID: cmd.RuleID})
		if err != nil {
			return Rule{}, nil, fmt.Errorf("delete rate rule: %w", err)
		}
		ev, err := ratesChanged(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Rule{}, nil, err
		}
		return ruleFromRow(row), []domain.Event{ev}, nil
	})
}

// ReplaceRulesInput is the body of PUT /items/{id}/rates.
type ReplaceRulesInput struct {
	Rules []RuleInput `json:"rules"`
}

// ReplaceRules replaces all of an item's rules; a later rule in the list wins
// over an earlier one. ExpectedVersion is the rule set's.
type ReplaceRules struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID    `json:"item_id"`
	Rules        []RuleFields `json:"rules"`
}

// NewReplaceRules validates in.
func NewReplaceRules(meta command.Meta, itemID uuid.UUID, in ReplaceRulesInput) (ReplaceRules, error) {
	var p domain.Problems
	cmd := ReplaceRules{Meta: meta, ItemID: itemID, Rules: []RuleFields{}}
	if in.Rules == nil {
		p.Add("rules", "required", "rules is required: send [] to remove every rule")
	}
	if len(in.Rules) > MaxRules {
		p.Add("rules", "too_many", "an item has at most %d rate rules", MaxRules)
		return cmd, p.Err()
	}
	for i, r := range in.Rules {
		cmd.Rules = append(cmd.Rules, RuleFields{}.apply(&p, fmt.Sprintf("rules[%d].", i), r, true))
	}
	return cmd, p.Err()
}

// ReplaceRules handles ReplaceRules.
func (s *Rates) ReplaceRules(ctx context.Context, sc scope.Scope, cmd ReplaceRules) (RateSet, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpReplaceRates, cmd, func(q *db.Queries) (RateSet, []domain.Event, error) {
		c, version, err := beginRateChange(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return RateSet{}, nil, err
		}
		if err := cmd.Meta.CheckVersion(version - 1); err != nil {
			return RateSet{}, nil, err
		}
		var p domain.Problems
		rows := make([]insertRow, len(cmd.Rules))
		for i, f := range cmd.Rules {
			checkWindow(&p, fmt.Sprintf("rules[%d].", i), f, c.Today, true, true)
			// UUIDv7 in the list's order: a later rule is newer, and wins.
			rows[i] = insertRow{ID: uuid.Must(uuid.NewV7()), StartDate: f.Start.String(), EndDate: f.End.String(),
				Days: f.Days, NightlyPrice: f.NightlyPrice, MinNights: f.MinNights, MaxNights: f.MaxNights,
				ClosedToArrival: f.ClosedToArrival, ClosedToDeparture: f.ClosedToDeparture, Closed: f.Closed}
		}
		if err := p.Err(); err != nil {
			return RateSet{}, nil, err
		}
		if err := q.DeleteRateRules(ctx, db.DeleteRateRulesParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID}); err != nil {
			return RateSet{}, nil, fmt.Errorf("delete rate rules: %w", err)
		}
		if len(rows) > 0 {
			body, err := json.Marshal(rows)
			if err != nil {
				return RateSet{}, nil, fmt.Errorf("encode rate rules: %w", err)
			}
			if _, err := q.InsertRateRules(ctx, db.InsertRateRulesParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID,
				Rules: body}); err != nil {
				return RateSet{}, nil, fmt.Errorf("insert rate rules: %w", err)
			}
		}
		ev, err := ratesChanged(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return RateSet{}, nil, err
		}
		return ev.Data.(RateSet), []domain.Event{ev}, nil
	})
}

// insertRow is a rule under the column names InsertRateRules reads.
type insertRow struct {
	ID                uuid.UUID `json:"id"`
	StartDate         string    `json:"start_date"`
	EndDate           string    `json:"end_date"`
	Days              []int16   `json:"days"`
	NightlyPrice      *int64    `json:"nightly_price"`
	MinNights         *int32    `json:"min_nights"`
	MaxNights         *int32    `json:"max_nights"`
	ClosedToArrival   *bool     `json:"closed_to_arrival"`
	ClosedToDeparture *bool     `json:"closed_to_departure"`
	Closed            *bool     `json:"closed"`
}

// beginRateChange counts a change to the item's rules and takes the item's row
// lock for it, returning the clock and the rule set's new version (not_found
// for an item of no organisation of the scope).
func beginRateChange(ctx context.Context, q *db.Queries, sc scope.Scope, itemID uuid.UUID) (domain.Clock, int32, error) {
	c, err := domain.LoadClock(ctx, q, sc)
	if err != nil {
		return domain.Clock{}, 0, err
	}
	v, err := q.BumpRatesVersion(ctx, db.BumpRatesVersionParams{OrganisationID: sc.OrganisationID, ID: itemID})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Clock{}, 0, domain.NotFound("item")
	}
	if err != nil {
		return domain.Clock{}, 0, fmt.Errorf("lock item rates: %w", err)
	}
	return c, v, nil
}

func getRule(ctx context.Context, q *db.Queries, sc scope.Scope, itemID, ruleID uuid.UUID) (db.RateRule, error) {
	r, err := q.GetRateRule(ctx, db.GetRateRuleParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: ruleID})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.RateRule{}, domain.NotFound("rate rule")
	}
	if err != nil {
		return db.RateRule{}, fmt.Errorf("load rate rule: %w", err)
	}
	return r, nil
}

// ratesChanged is the rates.changed event: the item's rule set after the change.
func ratesChanged(ctx context.Context, q *db.Queries, sc scope.Scope, itemID uuid.UUID) (domain.Event, error) {
	set, err := loadSet(ctx, q, sc, itemID)
	if err != nil {
		return domain.Event{}, err
	}
	return domain.Event{Type: domain.EventRatesChanged, Data: set}, nil
}

func loadSet(ctx context.Context, q *db.Queries, sc scope.Scope, itemID uuid.UUID) (RateSet, error) {
	v, err := q.RatesVersion(ctx, db.RatesVersionParams{OrganisationID: sc.OrganisationID, ID: itemID})
	if errors.Is(err, pgx.ErrNoRows) {
		return RateSet{}, domain.NotFound("item")
	}
	if err != nil {
		return RateSet{}, fmt.Errorf("load item rates: %w", err)
	}
	rows, err := q.ListRateRules(ctx, db.ListRateRulesParams{OrganisationID: sc.OrganisationID, ItemID: itemID})
	if err != nil {
		return RateSet{}, fmt.Errorf("list rate rules: %w", err)
	}
	set := RateSet{ItemID: itemID, Version: v, Rules: make([]Rule, len(rows))}
	for i, r := range rows {
		set.Rules[i] = ruleFromRow(r)
	}
	return set, nil
}

// GetRates returns an item's rules.
func (s *Rates) GetRates(ctx context.Context, sc scope.Scope, itemID uuid.UUID) (RateSet, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return RateSet{}, err
	}
	var out RateSet
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		var err error
		out, err = loadSet(ctx, q, sc, itemID)
		return err
	})
	return out, err
}

// GetRule returns one rule of an item.
func (s *Rates) GetRule(ctx context.Context, sc scope.Scope, itemID, ruleID uuid.UUID) (Rule, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return Rule{}, err
	}
	var out Rule
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		r, err := getRule(ctx, q, sc, itemID, ruleID)
		out = ruleFromRow(r)
		return err
	})
	return out, err
}
