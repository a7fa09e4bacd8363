# Vacancy's developer entry points. `make run` and `make test` are the two
# commands in the README; CI (.ci/run) calls `make ci`.

export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1
export VACANCY_PG_IMAGE ?= postgres:17

SQLC_VERSION := v1.31.1
BIN := $(CURDIR)/bin
SQLC := $(BIN)/sqlc
GO_TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: run test check ci pg-image tools build generate

## run: serve Vacancy with a disposable PostgreSQL (or DATABASE_URL) and a demo organisation
run: pg-image
	go build -o $(BIN)/vacancy-dev ./cmd/vacancy-dev
	$(BIN)/vacancy-dev

## test: unit and integration tests (PostgreSQL in testcontainers, race detector on)
test: pg-image
	go test $(GO_TEST_FLAGS) ./...

## check: formatting, vet, generated code up to date, sqlc vet rules
check: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(SQLC) diff
	$(SQLC) vet

## ci: what .ci/run runs
ci: check test

## build: the production binary, static
build:
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/api ./cmd/api

## generate: regenerate sqlc code after editing sql/
generate: tools
	$(SQLC) generate

## pg-image: make sure the PostgreSQL image exists locally (builds it from Debian packages when it cannot be pulled)
pg-image:
	./scripts/pg-image.sh

## tools: install pinned sqlc into ./bin
tools: $(SQLC)

$(SQLC):
	GOBIN=$(BIN) go install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
