.DEFAULT_GOAL := help
GO ?= go

help: ## show this help
	@grep -hE '^[a-z/-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

run: ## run rivet-flow serve on the embedded default (./data, http://127.0.0.1:6420)
	$(GO) run ./cmd/rivet-flow serve

build: ## build bin/rivet-flow
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/rivet-flow ./cmd/rivet-flow

test: test/go test/rivetkit test/conformance ## every test: Go (race detector), the real RivetKit client and RivetKit's driver suite (what CI runs)

test/go: ## the Go tests with the race detector
	$(GO) test -race -count=1 -timeout 20m ./...

test/rivetkit: ## the unmodified npm rivetkit client against the real binary (needs node and npm)
	@command -v node >/dev/null || { echo "node is missing: install Node.js 20+ (apt-get install nodejs npm)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "npm is missing: install npm" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) build -o bin/rivet-flow ./cmd/rivet-flow
	cd test/rivetkit && { [ -d node_modules/rivetkit ] || npm install --no-audit --no-fund; } && RIVETFLOW_BIN=$(CURDIR)/bin/rivet-flow node --test

# The suite's JSON pass (Database, Inline Client and Zod groups left out: README "RivetKit conformance").
SUITE = RIVETFLOW_BIN=$(CURDIR)/bin/rivet-flow NODE_OPTIONS=--experimental-websocket npx vitest run \
	-t '^(?!.*(Database|Inline Client|Zod Coercion)).*encoding \(json\)' --reporter=dot --reporter=json --outputFile=report.json

conformance: ## RivetKit's own driver test suite (npm rivetkit 2.2.1) against the binary, JSON encoding: passed/failed per group
	@command -v node >/dev/null || { echo "node is missing: install Node.js 20+ (apt-get install nodejs npm)" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) build -o bin/rivet-flow ./cmd/rivet-flow
	cd test/conformance && { [ -d node_modules/rivetkit ] || npm install --no-audit --no-fund; } && \
	  { $(SUITE); rc=$$?; node summarize.mjs report.json json; exit $$rc; }

test/conformance: ## the suite as CI runs it: every test listed in test/conformance/must-pass.txt must pass (a failure is retried once)
	@command -v node >/dev/null || { echo "node is missing: install Node.js 20+ (apt-get install nodejs npm)" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) build -o bin/rivet-flow ./cmd/rivet-flow
	cd test/conformance && { [ -d node_modules/rivetkit ] || npm install --no-audit --no-fund; } && \
	  { $(SUITE) --retry 1 >suite.log 2>&1; node summarize.mjs report.json json --expect must-pass.txt || { tail -n 40 suite.log; exit 1; }; }

bench: ## benchmarks side by side with raw JetStream (compare ratios, not absolutes)
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 5 ./eventlog ./internal/snapshot

fuzz: ## fuzz the key encoding and the event codec for a minute each
	$(GO) test -run '^$$' -fuzz FuzzActorSubject -fuzztime 60s ./eventlog
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalEvent -fuzztime 60s ./eventlog

verify: ## gofmt, vet and tests: everything CI checks
	bash .ci/run

.PHONY: help run build test test/go test/rivetkit test/conformance conformance bench fuzz verify
include mk/ops.mk
