# Vacancy's developer entry points. `make run` and `make test` are the two
# commands in the README; CI (.ci/run) calls `make ci`.

export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1
export VACANCY_PG_IMAGE ?= postgres:17

SQLC_VERSION := v1.31.1
OAPI_CODEGEN_VERSION := v2.8.2
IMAGE ?= vacancy/api:dev
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
BIN := $(CURDIR)/bin
SQLC := $(BIN)/sqlc
OAPI_CODEGEN := $(BIN)/oapi-codegen
GO_TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: run test check ci pg-image tools build generate client image bench test-reliability fuzz

## run: serve Vacancy with a disposable PostgreSQL (or DATABASE_URL) and a demo organisation
run: pg-image
	go build -o $(BIN)/vacancy-dev ./cmd/vacancy-dev
	$(BIN)/vacancy-dev

## test: unit and integration tests (PostgreSQL in testcontainers, race detector on; vacancytest runs the API image),
## then the reliability suite alone: its latency bounds must not pay for other packages' load on the same cores
test: pg-image image
	@rc=0; go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v '/internal/reliability$$') || rc=1; \
	echo "== the reliability suite, alone"; go test $(GO_TEST_FLAGS) ./internal/reliability/ || rc=1; exit $$rc

## test-reliability: only the reliability suite (races, retries, faults, crashes, hostile input); make test runs it too
test-reliability: pg-image
	go test $(GO_TEST_FLAGS) ./internal/reliability/

## fuzz: every fuzz target beyond its seed corpus, FUZZTIME each (default 15s)
FUZZTIME ?= 15s
FUZZ_TARGETS = $(shell grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' internal | sed 's|/[^/]*:func |:|' | sort -u)
fuzz: pg-image
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t##*:} ($${t%%:*}, $(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./$${t%%:*}; \
	done

## check: formatting, vet, generated code up to date, sqlc vet rules
check: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(SQLC) diff
	$(SQLC) vet
	@tmp=$$(mktemp -d) && sed 's|^output: .*|output: '$$tmp'/api.gen.go|' client/api/oapi-codegen.yaml > $$tmp/cfg.yaml && \
		$(OAPI_CODEGEN) -config $$tmp/cfg.yaml openapi.yaml && \
		if ! cmp -s $$tmp/api.gen.go client/api/api.gen.go; then echo "client/api is stale: run make client"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

## ci: what .ci/run runs
ci: check test fuzz

## build: the production binary, static
build:
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/api ./cmd/api

## image: the container image $(IMAGE) from a static binary built here (Dockerfile.local, FROM scratch: no registry needed; Dockerfile is the multi-stage build)
image:
	@test -f $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): install ca-certificates or set CA_BUNDLE"; exit 1; }
	mkdir -p $(BIN)/image
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o $(BIN)/image/api ./cmd/api
	cp $(CA_BUNDLE) $(BIN)/image/ca-certificates.crt
	docker build -f Dockerfile.local -t $(IMAGE) $(BIN)/image

## bench: measure the API against the same-SQL and minimal PostgreSQL floors, one-unit items and pools (about 7 min on 2 cores; BENCH_FLAGS="-duration 10s ...", "-scale", "-two-apis": see docs/benchmarks.md)
bench: pg-image build
	go run ./bench -api $(BIN)/api $(BENCH_FLAGS)

## generate: regenerate sqlc code after editing sql/
generate: tools
	$(SQLC) generate

## client: regenerate the typed Go client (client/api) after editing openapi.yaml
client: tools
	$(OAPI_CODEGEN) -config client/api/oapi-codegen.yaml openapi.yaml

## pg-image: make sure the PostgreSQL image exists locally (builds it from Debian packages when it cannot be pulled)
pg-image:
	./scripts/pg-image.sh

## tools: install pinned sqlc and oapi-codegen into ./bin
tools: $(SQLC) $(OAPI_CODEGEN)

$(OAPI_CODEGEN):
	GOBIN=$(BIN) go install github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$(OAPI_CODEGEN_VERSION)

$(SQLC):
	GOBIN=$(BIN) go install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
