# Operations checks: the alert rules, their unit tests, the Prometheus
# config and the compose file, each with its own tool, and the Go test that
# every metric the dashboard and the rules use is exposed by a real node.
# Included from the Makefile.

PROMTOOL_VERSION ?= v0.316.0
# promtool is built from source the first time (slow: minutes; cached after).
PROMTOOL ?= $(GO) run github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)
# docker compose (the CLI plugin) or docker-compose (Debian's package); no engine is needed.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

check-ops: ## check docker/: alert rules and their tests (promtool), compose config, dashboard and rules against /metrics
	$(PROMTOOL) check rules docker/prometheus/alerts.yml
	$(PROMTOOL) test rules docker/prometheus/alerts_test.yml
	$(PROMTOOL) check config --syntax-only docker/prometheus/prometheus.yml
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || \
	  { echo "docker compose is missing: install the compose plugin or Debian's docker-compose (apt-get install docker-compose)" >&2; exit 1; }
	RIVETFLOW_API_TOKEN_FILE=/dev/null $(COMPOSE) -f docker/compose.yml --profile monitoring config --quiet
	$(GO) test -race -count=1 ./internal/opscheck

.PHONY: check-ops
