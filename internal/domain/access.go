package domain

import (
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Operation names something an actor may do. A command's operation is also its
// type in the command log, so these strings are stored: do not rename them.
type Operation string

// Every operation of the API. The HTTP routes and the services both authorise
// with these and the access table below, so they cannot disagree.
const (
	OpReadOrganisation Operation = "organisation.read"

	OpCreateAPIKey Operation = "api_key.create"
	OpRevokeAPIKey Operation = "api_key.revoke"
	OpListAPIKeys  Operation = "api_key.list"

	OpReadCatalogue Operation = "catalogue.read"
	OpCreateItem    Operation = "item.create"
	OpUpdateItem    Operation = "item.update"
	OpArchiveItem   Operation = "item.archive"
	OpCreateAddon   Operation = "addon.create"
	OpArchiveAddon  Operation = "addon.archive"
	OpCreateUnit    Operation = "unit.create"
	OpUpdateUnit    Operation = "unit.update"
	OpArchiveUnit   Operation = "unit.archive"

	OpReadProperties  Operation = "property.read"
	OpCreateProperty  Operation = "property.create"
	OpUpdateProperty  Operation = "property.update"
	OpArchiveProperty Operation = "property.archive"

	OpSearchAvailability Operation = "availability.search"
	OpQuote              Operation = "quote.create"
	OpCreateBooking      Operation = "booking.create"
	OpReadBookings       Operation = "booking.read"
	OpUpdateBooking      Operation = "booking.update"
	OpConfirmBooking     Operation = "booking.paid"
	OpCancelBooking      Operation = "booking.cancelled"
	OpCompleteBooking    Operation = "booking.complete"
	OpExpireHold         Operation = "booking.expire"
	OpAssignUnit         Operation = "booking.assign_unit"
	OpCreateBlock        Operation = "block.create"
	OpUpdateBlock        Operation = "block.update"
	OpDeleteBlock        Operation = "block.delete"

	OpCreateRateRule Operation = "rate_rule.create"
	OpUpdateRateRule Operation = "rate_rule.update"
	OpDeleteRateRule Operation = "rate_rule.delete"
	OpReplaceRates   Operation = "rates.replace"
	OpCreateCharge   Operation = "charge.create"
	OpUpdateCharge   Operation = "charge.update"
	OpDeleteCharge   Operation = "charge.delete"

	OpReadEvents Operation = "event.read"

	OpReadTestClock    Operation = "test_clock.read"
	OpAdvanceTestClock Operation = "test_clock.advance"
	OpResetTestData    Operation = "test_data.reset"

	OpCreateWebhookEndpoint Operation = "webhook_endpoint.create"
	OpUpdateWebhookEndpoint Operation = "webhook_endpoint.update"
	OpDeleteWebhookEndpoint Operation = "webhook_endpoint.delete"
	OpRotateWebhookSecret   Operation = "webhook_endpoint.rotate_secret"
	OpReadWebhooks          Operation = "webhook.read"
	OpRetryWebhookDelivery  Operation = "webhook_delivery.retry"

	OpCreateICalFeed       Operation = "ical_feed.create"
	OpReadICalFeeds        Operation = "ical_feed.read"
	OpRevokeICalFeed       Operation = "ical_feed.revoke"
	OpCreateCalendarImport Operation = "calendar_import.create"
	OpReadCalendarImports  Operation = "calendar_import.read"
	OpUpdateCalendarImport Operation = "calendar_import.update"
	OpDeleteCalendarImport Operation = "calendar_import.delete"
	OpSyncCalendarImport   Operation = "calendar_import.sync"
)

// permission is the least role an operation needs, and what it is called in the
// forbidden message.
type permission struct {
	role scope.Role
	what string
}

var access = map[Operation]permission{
	OpReadOrganisation: {scope.RoleRead, "read the organisation"},

	OpCreateAPIKey: {scope.RoleAdmin, "manage API keys"},
	OpRevokeAPIKey: {scope.RoleAdmin, "manage API keys"},
	OpListAPIKeys:  {scope.RoleAdmin, "manage API keys"},

	OpReadCatalogue: {scope.RoleRead, "read the catalogue"},
	OpCreateItem:    {scope.RoleAdmin, "manage the catalogue"},
	OpUpdateItem:    {scope.RoleAdmin, "manage the catalogue"},
	OpArchiveItem:   {scope.RoleAdmin, "manage the catalogue"},
	OpCreateAddon:   {scope.RoleAdmin, "manage the catalogue"},
	OpArchiveAddon:  {scope.RoleAdmin, "manage the catalogue"},
	OpCreateUnit:    {scope.RoleAdmin, "manage the catalogue"},
	OpUpdateUnit:    {scope.RoleAdmin, "manage the catalogue"},
	OpArchiveUnit:   {scope.RoleAdmin, "manage the catalogue"},

	OpReadProperties:  {scope.RoleRead, "read properties"},
	OpCreateProperty:  {scope.RoleAdmin, "manage properties"},
	OpUpdateProperty:  {scope.RoleAdmin, "manage properties"},
	OpArchiveProperty: {scope.RoleAdmin, "manage properties"},

	OpSearchAvailability: {scope.RoleRead, "search availability"},
	OpQuote:              {scope.RoleWrite, "request quotes"},
	OpCreateBooking:      {scope.RoleWrite, "book"},
	OpReadBookings:       {scope.RoleRead, "read bookings"},
	OpUpdateBooking:      {scope.RoleWrite, "change bookings"},
	OpConfirmBooking:     {scope.RoleWrite, "change bookings"},
	OpCancelBooking:      {scope.RoleWrite, "change bookings"},
	OpCompleteBooking:    {scope.RoleWrite, "change bookings"},
	OpExpireHold:         {scope.RoleAdmin, "expire holds"},
	OpAssignUnit:         {scope.RoleAdmin, "move a stay to a given unit"},
	OpCreateBlock:        {scope.RoleAdmin, "manage blocks"},
	OpUpdateBlock:        {scope.RoleAdmin, "manage blocks"},
	OpDeleteBlock:        {scope.RoleAdmin, "manage blocks"},

	OpCreateRateRule: {scope.RoleAdmin, "manage rates"},
	OpUpdateRateRule: {scope.RoleAdmin, "manage rates"},
	OpDeleteRateRule: {scope.RoleAdmin, "manage rates"},
	OpReplaceRates:   {scope.RoleAdmin, "manage rates"},
	OpCreateCharge:   {scope.RoleAdmin, "manage taxes and fees"},
	OpUpdateCharge:   {scope.RoleAdmin, "manage taxes and fees"},
	OpDeleteCharge:   {scope.RoleAdmin, "manage taxes and fees"},

	OpReadEvents: {scope.RoleRead, "read events"},

	OpReadTestClock:    {scope.RoleRead, "read the test clock"},
	OpAdvanceTestClock: {scope.RoleAdmin, "move the test clock"},
	OpResetTestData:    {scope.RoleAdmin, "reset test data"},

	OpCreateWebhookEndpoint: {scope.RoleAdmin, "manage webhooks"},
	OpUpdateWebhookEndpoint: {scope.RoleAdmin, "manage webhooks"},
	OpDeleteWebhookEndpoint: {scope.RoleAdmin, "manage webhooks"},
	OpRotateWebhookSecret:   {scope.RoleAdmin, "manage webhooks"},
	OpReadWebhooks:          {scope.RoleAdmin, "manage webhooks"},
	OpRetryWebhookDelivery:  {scope.RoleAdmin, "manage webhooks"},

	// Feed tokens and import URLs are secrets (whoever has one reads a calendar).
	OpCreateICalFeed:       {scope.RoleAdmin, "manage calendar feeds"},
	OpReadICalFeeds:        {scope.RoleAdmin, "manage calendar feeds"},
	OpRevokeICalFeed:       {scope.RoleAdmin, "manage calendar feeds"},
	OpCreateCalendarImport: {scope.RoleAdmin, "manage calendar imports"},
	OpReadCalendarImports:  {scope.RoleAdmin, "manage calendar imports"},
	OpUpdateCalendarImport: {scope.RoleAdmin, "manage calendar imports"},
	OpDeleteCalendarImport: {scope.RoleAdmin, "manage calendar imports"},
	OpSyncCalendarImport:   {scope.RoleAdmin, "manage calendar imports"},
}

// Operations lists every operation of the access table.
func Operations() []Operation {
	out := make([]Operation, 0, len(access))
	for op := range access {
		out = append(out, op)
	}
	return out
}

// RoleFor is the least role op needs; ok is false for an operation missing from
// the table, which nobody may run.
func RoleFor(op Operation) (role scope.Role, ok bool) {
	p, ok := access[op]
	return p.role, ok
}

// Authorize answers forbidden unless the scope's role may run op.
func Authorize(sc scope.Scope, op Operation) error {
	p, ok := access[op]
	if !ok {
		return Forbidden("no key may run %s", op)
	}
	if !sc.Role.Allows(p.role) {
		return Forbidden("a %s key cannot %s", sc.Role, p.what)
	}
	return nil
}
