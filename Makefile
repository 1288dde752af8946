# The two commands a newcomer needs: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PY := .venv/bin/python
ARGS ?=
NAME ?= render
WORKERS ?= 1
export WORKERS

.PHONY: setup venv demo test up down bench lint web-types package web-deploy deploy destroy clean

setup:                ## bring up Redis, MariaDB, the AWS emulator, venv and migrations
	@bash scripts/bringup.sh

demo: setup           ## run one real job end to end through the HTTP API
	@$(PY) scripts/demo.py

test: venv lint       ## lint, then the tests: all tiers, or ARGS=tests/unit or tests/media (no services), ARGS='-m e2e'...
	@case "$(ARGS)" in tests/unit|tests/unit/*|tests/media|tests/media/*) ;; *) bash scripts/bringup.sh ;; esac
	@$(PY) -m pytest $(ARGS)

venv:                 ## only the project's virtualenv (the first step of setup)
	@bash scripts/bringup.sh --venv-only

up: setup             ## the local stack in the background: API on :8000, WORKERS workers, the scheduler
	@$(PY) scripts/stack.py up

down:                 ## stop what `make up` and the bring-up started
	@$(PY) scripts/stack.py down

bench: setup          ## a benchmark: make bench NAME=render
	@$(PY) bench/$(NAME).py

lint:                 ## ruff (lint and format check), mypy (pyproject.toml), cfn-lint the SAM template, bandit, console API types
	@.venv/bin/ruff check chalicelib app.py functions scripts tests bench client
	@.venv/bin/ruff format --check --quiet chalicelib app.py functions scripts tests bench client
	@.venv/bin/mypy
	@.venv/bin/cfn-lint template.yaml
	@# (bandit warns about a nosec on the other lines of a multi-line statement: noise, filtered)
	@.venv/bin/bandit -q -ll -r app.py chalicelib functions scripts bench containers localstack client \
		2> >(grep -v 'but no failed test' >&2)
	@bash scripts/web_types.sh --check

web-types: venv       ## regenerate the console's API types (web/src/api/openapi.ts) from the served OpenAPI document
	@bash scripts/web_types.sh

package: setup        ## out/package: sam.yaml (Chalice + template.yaml) and one zip for every Lambda
	@$(PY) scripts/package.py out/package

web-deploy: setup     ## upload web/dist to the console bucket behind CloudFront: make web-deploy STACK=name
	@$(PY) scripts/deploy_web.py --stack "$(STACK)"

# Not run here (needs an AWS account): DRY_RUN=1 prints every step instead. See scripts/deploy.py.
DEPLOY_FLAGS = --stack "$(STACK)" --region "$(or $(REGION),us-east-1)" $(if $(STAGE),--stage $(STAGE)) \
	$(if $(MAIL_FROM),--mail-from $(MAIL_FROM)) $(if $(DOMAIN),--domain $(DOMAIN)) \
	$(if $(filter true 1,$(RESERVE)),--reserve) $(if $(PLATFORM),--platform-providers $(PLATFORM)) \
	$(if $(DRY_RUN),--dry-run)

deploy: venv          ## preflight, worker image to ECR, package, sam deploy, console, smoke: make deploy STACK=name [REGION= MAIL_FROM= DOMAIN= PLATFORM=openai DRY_RUN=1]
	@$(PY) scripts/deploy.py deploy $(DEPLOY_FLAGS)

destroy: venv         ## delete the stack and what it retains (buckets emptied, KMS key scheduled): make destroy STACK=name [DRY_RUN=1]
	@$(PY) scripts/deploy.py destroy $(DEPLOY_FLAGS)

clean:                ## remove local state (venv, project-local services' data, outputs)
	@$(PY) scripts/stack.py down >/dev/null 2>&1 || true
	rm -rf .venv .local out
