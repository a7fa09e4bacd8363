package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// API keys look like vac_live_<48 base32 characters> (vac_test_ for test mode):
// 240 random bits. The first 12 random characters, with the marker, are the
// public prefix used to find the key; only the SHA-256 of the whole key is stored.
const (
	liveMarker   = "vac_live_"
	testMarker   = "vac_test_"
	markerLen    = len(liveMarker)
	keyRandomLen = 48
	prefixLen    = markerLen + 12
)

// wellFormed reports whether key has a marker and the length of a key.
func wellFormed(key string) bool {
	return (strings.HasPrefix(key, liveMarker) || strings.HasPrefix(key, testMarker)) && len(key) == markerLen+keyRandomLen
}

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// APIKey is a key as the API shows it. Key (the secret) is set only in the answer
// to the command that created it.
type APIKey struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Role       scope.Role `json:"role"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// Livemode is false for test-mode keys (vac_test_), which see only test data.
	Livemode bool `json:"livemode"`
}

func apiKeyFromRow(k db.ApiKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Role: scope.Role(k.Role), Prefix: k.Prefix, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, Livemode: scope.Livemode(k.OrganisationID)}
}

func newKeySecret(livemode bool) (key, prefix string, hash []byte) {
	b := make([]byte, keyRandomLen*5/8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	marker := liveMarker
	if !livemode {
		marker = testMarker
	}
	key = marker + keyEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(key))
	return key, key[:prefixLen], sum[:]
}

func createAPIKey(ctx context.Context, q *db.Queries, sc scope.Scope, name string, role scope.Role) (APIKey, error) {
	key, prefix, hash := newKeySecret(sc.Livemode())
	row, err := q.CreateAPIKey(ctx, db.CreateAPIKeyParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
		Name: name, Role: string(role), Prefix: prefix, SecretHash: hash})
	if err != nil {
		return APIKey{}, fmt.Errorf("insert api key: %w", err)
	}
	out := apiKeyFromRow(row)
	out.Key = key
	return out, nil
}

// KeyPrefix returns the public prefix of a well-formed API key. The prefix names
// one key without any database work (rate limiting counts by it); it proves nothing
// about the key until Authenticate has checked the secret.
func KeyPrefix(key string) (string, bool) {
	if !wellFormed(key) {
		return "", false
	}
	return key[:prefixLen], true
}

// ErrUnauthenticated is returned for a missing, malformed, unknown or revoked key.
var ErrUnauthenticated = errors.New("unauthenticated")

// Principal is an authenticated API key.
type Principal struct {
	Scope            scope.Scope
	OrganisationSlug string
}

// Authenticate checks a bearer key and returns its scope. A key this instance
// checked recently is answered from memory (no query): a key revoked through
// this instance is forgotten at once, one revoked through another stops working
// here within AuthCacheTTL (see there).
func (s *Registry) Authenticate(ctx context.Context, key string) (Principal, error) {
	if !wellFormed(key) {
		return Principal{}, ErrUnauthenticated
	}
	now := time.Now()
	if p, ok := s.creds.lookup(key[:prefixLen], sha256.Sum256([]byte(key)), now, s.authTTL(now)); ok {
		s.touchKey(ctx, p.Scope)
		return p, nil
	}
	return s.check(ctx, key)
}

// check authenticates key against the database and remembers a success.
func (s *Registry) check(ctx context.Context, key string) (Principal, error) {
	if !wellFormed(key) {
		return Principal{}, ErrUnauthenticated
	}
	prefix := key[:prefixLen]
	epoch, started := s.creds.currentEpoch(), time.Now() // what the check saw is as old as its start
	cred, err := s.db.CredentialByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		s.creds.forgetPrefix(prefix)
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], cred.SecretHash) != 1 || cred.Revoked {
		s.creds.forgetPrefix(prefix)
		return Principal{}, ErrUnauthenticated
	}
	sc := scope.Scope{OrganisationID: cred.OrganisationID, ActorID: cred.ID, Role: scope.Role(cred.Role)}
	s.touchKey(ctx, sc)
	p := Principal{Scope: sc, OrganisationSlug: cred.OrganisationSlug}
	s.creds.remember(prefix, sum, p, started, epoch)
	return p, nil
}

// keyTouchInterval bounds how often one instance records a key's last use.
const keyTouchInterval = time.Minute

func (s *Registry) touchKey(ctx context.Context, sc scope.Scope) {
	now := time.Now()
	if last, ok := s.touched.Load(sc.ActorID); ok && now.Sub(last.(time.Time)) < keyTouchInterval {
		return
	}
	s.touched.Store(sc.ActorID, now)
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		return q.TouchAPIKey(ctx, db.TouchAPIKeyParams{OrganisationID: sc.OrganisationID, ID: sc.ActorID})
	})
	if err != nil {
		s.log.WarnContext(ctx, "record api key use", "api_key_id", sc.ActorID, "err", err)
	}
}

// CreateAPIKeyInput is what an admin sends. livemode false asks a live admin key
// for a test-mode key (vac_test_), creating the organisation's sandbox on first use.
type CreateAPIKeyInput struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Livemode *bool  `json:"livemode"`
}

// CreateAPIKey creates a key in the scope's organisation, or a test-mode key in
// its sandbox when Livemode is false.
type CreateAPIKey struct {
	command.Meta `json:"-"`
	Name         string     `json:"name"`
	Role         scope.Role `json:"role"`
	Livemode     *bool      `json:"livemode,omitempty"`
}

// NewCreateAPIKey validates in.
func NewCreateAPIKey(meta command.Meta, in CreateAPIKeyInput) (CreateAPIKey, error) {
	cmd := CreateAPIKey{Meta: meta, Name: strings.TrimSpace(in.Name), Role: scope.Role(in.Role), Livemode: in.Livemode}
	var p domain.Problems
	domain.CheckText(&p, "name", cmd.Name, 1, 200)
	if !cmd.Role.Valid() {
		p.Add("role", "invalid", "role must be admin, write or read")
	}
	return cmd, p.Err()
}

// CodeKeyLimit is the conflict of a key creation past the organisation's quota.
const CodeKeyLimit = "api_key_limit_reached"

// CreateAPIKey creates a key; the answer carries the secret, shown this once.
// The stored command outcome keeps only the key's public fields, so a replay
// of the request cannot reveal the secret again. An organisation holds at most
// its quota of keys that are not revoked: every key has a rate limit of its
// own, so keys without end would multiply what one organisation may send.
func (s *Registry) CreateAPIKey(ctx context.Context, sc scope.Scope, cmd CreateAPIKey) (APIKey, command.Receipt, error) {
	if cmd.Livemode != nil && *cmd.Livemode != sc.Livemode() {
		if sc.Livemode() {
			// A live admin asks for a test key: it is created in the sandbox, by a
			// command recorded there, with the same admin rights.
			if err := domain.Authorize(sc, domain.OpCreateAPIKey); err != nil {
				return APIKey{}, command.Receipt{}, err
			}
			sandbox, err := s.ensureSandbox(ctx, sc)
			if err != nil {
				return APIKey{}, command.Receipt{}, err
			}
			sc = sandbox
		} else {
			return APIKey{}, command.Receipt{}, domain.Invalid("livemode", "test_mode",
				"a test-mode key creates test-mode keys only: use a live admin key for live keys")
		}
	}
	var secret string
	key, rc, err := command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateAPIKey, cmd, func(q *db.Queries) (APIKey, []domain.Event, error) {
		if err := q.LockOrganisationQuota(ctx, sc.OrganisationID); err != nil {
			return APIKey{}, nil, fmt.Errorf("lock the organisation's quota: %w", err)
		}
		n, err := q.CountLiveAPIKeys(ctx, sc.OrganisationID)
		if err != nil {
			return APIKey{}, nil, fmt.Errorf("count api keys: %w", err)
		}
		if n >= int64(s.keyQuota) {
			return APIKey{}, nil, domain.Conflict(CodeKeyLimit,
				"the organisation holds %d API keys, its limit: revoke one it no longer uses first", n)
		}
		k, err := createAPIKey(ctx, q, sc, cmd.Name, cmd.Role)
		secret = k.Key
		k.Key = ""
		return k, nil, err
	})
	key.Key = secret
	return key, rc, err
}

// RevokeAPIKey revokes a key; requests with it fail at once.
type RevokeAPIKey struct {
	command.Meta `json:"-"`
	KeyID        uuid.UUID `json:"key_id"`
}

// RevokeAPIKey revokes a key of the scope's organisation. Every instance hears
// of it at the commit (a notification), so event streams with the key end at
// once, wherever they are.
func (s *Registry) RevokeAPIKey(ctx context.Context, sc scope.Scope, cmd RevokeAPIKey) (APIKey, command.Receipt, error) {
	k, rc, err := command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpRevokeAPIKey, cmd, func(q *db.Queries) (APIKey, []domain.Event, error) {
		row, err := q.RevokeAPIKey(ctx, db.RevokeAPIKeyParams{OrganisationID: sc.OrganisationID, ID: cmd.KeyID, Now: cmd.IssuedAt})
		if errors.Is(err, pgx.ErrNoRows) {
			return APIKey{}, nil, domain.NotFound("api key")
		}
		if err != nil {
			return APIKey{}, nil, fmt.Errorf("revoke api key: %w", err)
		}
		if err := q.NotifyAPIKeyRevoked(ctx, db.NotifyAPIKeyRevokedParams{OrganisationID: sc.OrganisationID, ID: cmd.KeyID}); err != nil {
			return APIKey{}, nil, fmt.Errorf("notify the revocation: %w", err)
		}
		return apiKeyFromRow(row), nil, nil
	})
	if err == nil {
		s.ForgetKey(cmd.KeyID)
	}
	return k, rc, err
}

// ListAPIKeys lists the organisation's keys (never their secrets).
func (s *Registry) ListAPIKeys(ctx context.Context, sc scope.Scope, page domain.Page) (domain.List[APIKey], error) {
	if err := domain.Authorize(sc, domain.OpListAPIKeys); err != nil {
		return domain.List[APIKey]{}, err
	}
	var out domain.List[APIKey]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListAPIKeys(ctx, db.ListAPIKeysParams{OrganisationID: sc.OrganisationID, After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list api keys: %w", err)
		}
		out = domain.Paginate(rows, page, func(k db.ApiKey) (APIKey, uuid.UUID) { return apiKeyFromRow(k), k.ID })
		return nil
	})
	return out, err
}

// ensureSandbox creates the scope's organisation's sandbox twin if it does not
// exist yet, and returns the same actor's scope in it.
func (s *Registry) ensureSandbox(ctx context.Context, sc scope.Scope) (scope.Scope, error) {
	var live db.Organisation
	if err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		var err error
		live, err = q.GetOrganisation(ctx, sc.OrganisationID)
		return err
	}); err != nil {
		return scope.Scope{}, fmt.Errorf("load organisation: %w", err)
	}
	sandbox := scope.Scope{OrganisationID: scope.SandboxOf(live.ID), ActorID: sc.ActorID, Role: sc.Role}
	err := s.db.Tx(ctx, sandbox, func(q *db.Queries) error {
		_, err := q.CreateSandbox(ctx, db.CreateSandboxParams{OrganisationID: sandbox.OrganisationID, Slug: live.Slug,
			Name: live.Name, Currency: live.Currency, Timezone: live.Timezone, HoldMinutes: live.HoldMinutes,
			LiveOrganisationID: &live.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // it exists
		}
		return err
	})
	if err != nil {
		return scope.Scope{}, fmt.Errorf("create sandbox: %w", err)
	}
	return sandbox, nil
}
