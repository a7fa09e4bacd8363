// Package outbox owns what leaves Vacancy: the event log written in each
// command's transaction, the feed that reads it in commit-safe order, webhook
// endpoints, their deliveries and the delivery pipeline (prepare, sign, record
// attempts). It must not hold catalogue or booking rules: events carry resources
// as the other packages built them.
package outbox

import (
	"log/slog"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Outbox handles events, webhook endpoints and deliveries.
type Outbox struct {
	db            *scope.DB
	exec          *command.Executor
	log           *slog.Logger
	webhooks      webhook.Policy // which webhook URLs may be registered
	endpointQuota int            // most webhook endpoints an organisation may hold
}

// DefaultEndpointQuota is how many webhook endpoints an organisation may hold
// unless configured otherwise.
const DefaultEndpointQuota = 10

// NewOutbox returns an Outbox running its commands with exec; policy says which
// webhook URLs may be registered, and an organisation may hold endpointQuota
// endpoints (DefaultEndpointQuota when endpointQuota <= 0).
func NewOutbox(d *scope.DB, exec *command.Executor, policy webhook.Policy, endpointQuota int) *Outbox {
	if endpointQuota <= 0 {
		endpointQuota = DefaultEndpointQuota
	}
	return &Outbox{db: d, exec: exec, log: exec.Logger(), webhooks: policy, endpointQuota: endpointQuota}
}
