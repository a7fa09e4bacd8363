package app

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// Fairness is the part of Config that keeps one organisation from taking the
// service away from the others: how much of each shared thing it may hold.
type Fairness struct {
	Quotas  service.Quotas       // VACANCY_QUOTAS: api_keys, webhook_endpoints
	Streams httpapi.StreamLimits // VACANCY_QUOTAS: streams_per_key, streams_per_organisation, streams
	// (and webhook_deliveries, in Events.WebhookConcurrency)
	HSTS string // VACANCY_HSTS: the Strict-Transport-Security value; "" sends none
}

// defaultQuotas is VACANCY_QUOTAS's default.
var defaultQuotas = fmt.Sprintf("api_keys=%d,webhook_endpoints=%d,webhook_deliveries=%d,streams_per_key=%d,streams_per_organisation=%d,streams=%d",
	tenancy.DefaultKeyQuota, outbox.DefaultEndpointQuota, jobs.DefaultOrgConcurrency, httpapi.DefaultStreamLimits.PerKey,
	httpapi.DefaultStreamLimits.PerOrganisation, httpapi.DefaultStreamLimits.PerInstance)

func loadFairness(getenv func(string) string, c *Config) error {
	q, err := parseCounts("VACANCY_QUOTAS", getenv("VACANCY_QUOTAS"), defaultQuotas)
	if err != nil {
		return err
	}
	c.Quotas = service.Quotas{APIKeys: q["api_keys"], WebhookEndpoints: q["webhook_endpoints"]}
	c.Streams = httpapi.StreamLimits{PerKey: q["streams_per_key"], PerOrganisation: q["streams_per_organisation"], PerInstance: q["streams"]}
	c.Events.WebhookConcurrency = q["webhook_deliveries"]
	if c.HSTS, err = httpapi.ParseHSTS(getenv("VACANCY_HSTS")); err != nil {
		return fmt.Errorf("VACANCY_HSTS %w", err)
	}
	return nil
}

// parseCounts reads "name=N,name=N" over defaults of the same form: every name
// must be one of the defaults', every N a whole number from 1 to 1,000,000.
func parseCounts(variable, s, defaults string) (map[string]int, error) {
	out := map[string]int{}
	var names []string
	for part := range strings.SplitSeq(defaults, ",") {
		name, v, _ := strings.Cut(part, "=")
		out[name], _ = strconv.Atoi(v)
		names = append(names, name)
	}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if _, known := out[strings.TrimSpace(name)]; !ok || !known || err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("%s must be name=N pairs separated by commas, each name one of %s and N from 1 to 1000000, not %q",
				variable, strings.Join(names, ", "), s)
		}
		out[strings.TrimSpace(name)] = n
	}
	return out, nil
}
