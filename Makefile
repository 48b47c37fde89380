# Every target here is what a person runs and what CI runs (.ci/run, .circleci/config.yml).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SF ?= 0.01
DS ?= 1995-03-15

export PYSPARK_JOBS_HOME := $(CURDIR)
export PYSPARK_JOBS_VAR ?= $(CURDIR)/var
export PATH := $(BIN):$(PATH)

.PHONY: help setup deps fetch services services-down services-status data demo e2e test test-sf1 chaos check check-against main-history lint package publish qa-diff bench bench-tpch clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: deps fetch services ## virtualenv, dependencies, jars and Trino, services started (idempotent)

deps: $(VENV)/.installed ## the virtualenv with the pinned development dependencies

$(VENV)/.installed: requirements/dev.lock setup.cfg
	dev/bootstrap.sh $(PYTHON) $(VENV)
	@touch $@

fetch: deps ## MySQL Connector/J and the Trino server into var/cache
	dev/fetch.sh

services: deps fetch ## start MariaDB, Trino, moto (S3, Secrets Manager, EMR), the metastore service and YARN on loopback
	dev/services.sh up

services-down: ## stop the local services
	dev/services.sh down

services-status: ## health of each local service
	dev/services.sh status

data: setup ## TPC-H at scale factor SF into the warehouse and MariaDB
	$(BIN)/python dev/load_tpch.py --sf $(SF)

# The set-up (`make data`) runs inside the demo, its output in the demo's log with the rest.
demo: deps ## set up, run the demonstration job end to end, show its outputs (full log under var/logs)
	@$(BIN)/python dev/demo.py --ds $(DS) --sf $(SF)

e2e: data ## the demo DAG in production's shape: YARN, S3, metastore service, secrets; Trino reads the outputs
	$(BIN)/python dev/e2e.py --ds $(DS)

check: deps ## static check of every job's columns and types, no data read
	$(BIN)/pyspark-jobs check

# A breaking change fails unless the same change adds or edits migrations/<database>.<table>.toml
# (docs/CHECK.md). CI fetches main first and names the merge base itself.
# CI checkouts are shallow: check --against and diff --changed need the merge base with main.
main-history: ## deepen a shallow clone and fetch origin/main
	@if [ "$$(git rev-parse --is-shallow-repository)" = true ]; then \
	  git fetch --quiet --unshallow origin || { echo "error: a shallow clone whose history could not be fetched: the merge base with main is needed" >&2; exit 2; }; \
	fi
	git fetch --quiet origin +refs/heads/main:refs/remotes/origin/main

check-against: deps ## every output contract against REF's (default: the merge base with main): safe or breaking
	$(BIN)/pyspark-jobs check --against $(REF)

test: data ## lint, static check, then the pytest suite against the real services (without chaos)
	$(MAKE) lint
	$(MAKE) check
	$(BIN)/pytest -m "not chaos"

# At SF0.01 the answers of Q08 and Q17 are degenerate (a share of 0.0, a NULL average); SF1's are
# not. Not part of `make test` or CI: loading SF1 takes minutes. SF0.01 is loaded back afterwards.
test-sf1: setup ## TPC-H SF1 loaded, every TPC-H job (both flavours) against the SF1 answers, then SF0.01 back
	$(BIN)/python dev/load_tpch.py --sf 1
	status=0; $(BIN)/pytest tests/pyspark_jobs/tpch/test_conformance.py -q || status=$$?; \
	  $(BIN)/python dev/load_tpch.py --sf 0.01; exit $$status

# Own inputs from the generated SF0.01 files and an own MariaDB: the loaded data is not needed.
chaos: setup ## fault tests (tests/chaos): a lost executor (local-cluster and a YARN container), a lost YARN node, MySQL, the metastore and S3 failing mid-run, Trino down, concurrent runs
	$(BIN)/pytest -m chaos tests/chaos

lint: deps ## ruff
	$(BIN)/ruff check common pyspark_jobs dags packaging tests dev

# BRANCH given on the command line or in the environment wins; otherwise the scripts ask
# git themselves (`git symbolic-ref`, which also works before the first commit) or CI.
PACKAGE_BRANCH_ARG = $(if $(filter-out default file undefined,$(origin BRANCH)),--branch "$(BRANCH)")

package: deps ## build dist/<branch-slug>/ for BRANCH (default: the current branch); FORCE=1 rebuilds
	$(BIN)/python packaging/build.py $(PACKAGE_BRANCH_ARG) $(if $(filter 1,$(FORCE)),--force)

publish: package ## upload dist/<branch-slug>/ to the artifact store; PROD=1 also marks it production's
	$(BIN)/python packaging/publish.py $(PACKAGE_BRANCH_ARG) $(if $(filter 1,$(PROD)),--prod)

# After a branch's QA run: every job that run wrote for QA_DS, against production, as Markdown
# and JSON per job plus summary.md and summary.json (which also list the jobs the branch did not
# run) in QA_DIFF_DIR, a CI artifact. Differences are the report, not a failure (exit 1); a job
# that cannot be diffed, or a branch that wrote nothing for QA_DS (exit 2), fails.
QA_DIFF_DIR ?= dist/qa-diff
QA_BRANCH = $(or $(BRANCH),$(CIRCLE_BRANCH))
qa-diff: deps ## diff the jobs the QA run of BRANCH (default $$CIRCLE_BRANCH) wrote for QA_DS and changed (since QA_DIFF_REF, default the merge base with main) against production into QA_DIFF_DIR
	@$(if $(QA_DS),,$(error QA_DS is not set: give the ds the branch's QA run wrote, e.g. make qa-diff QA_DS=1995-03-15))
	@$(if $(QA_BRANCH),,$(error no branch: give BRANCH=name (CI sets CIRCLE_BRANCH)))
	$(BIN)/pyspark-jobs diff --all --changed $(QA_DIFF_REF) --ds "$(QA_DS)" --branch "$(QA_BRANCH)" --out-dir "$(QA_DIFF_DIR)"; \
	status=$$?; test $$status -le 1

BENCH_SF ?= 1
REPEAT ?= 5
TPCH_REPEAT ?= $(REPEAT)

bench: setup ## measure against the baselines (BENCH_SF=1, REPEAT=5; ONLY=shared,jdbc for some sections) into BENCHMARKS.md
	$(BIN)/python dev/bench.py --sf $(BENCH_SF) --repeat $(REPEAT) --tpch-repeat $(TPCH_REPEAT) $(if $(ONLY),--only $(ONLY))

bench-tpch: setup ## TPC-H DataFrame jobs against their SQL twins at SF (default 1): section 2 of BENCHMARKS.md
	$(BIN)/python dev/bench.py --sf $(if $(filter 0.01,$(SF)),1,$(SF)) --repeat $(REPEAT) --only tpch

clean: services-down ## remove var/ and dist/
	rm -rf var dist
