# hashmatch: the two commands a newcomer needs are `make demo` and `make test`.
# Each creates the project's virtual environment (.venv) when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DYNAMODB_LOCAL_JAR := .cache/dynamodb-local/node_modules/amplify-dynamodb-simulator/emulator/DynamoDBLocal.jar

.PHONY: demo test test-isolated dynamodb-local lint unit integration e2e format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hashmatch demo

lint: $(STAMP) sam-validate lint-template
	$(BIN)/ruff check layers functions clients tests benchmarks
	$(BIN)/ruff format --check layers functions clients tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

# Amazon's DynamoDB Local (the jar npm's amplify-dynamodb-simulator bundles), for the tests that
# need real DynamoDB; fetched from the npm registry once.
$(DYNAMODB_LOCAL_JAR):
	.ci/dynamodb-local.sh

dynamodb-local: $(DYNAMODB_LOCAL_JAR)

# `make test` in a private network namespace with only loopback (needs root). DynamoDB Local listens
# on every interface, so its tests run only there; a plain `make test` skips them, loudly.
test-isolated: $(STAMP) $(DYNAMODB_LOCAL_JAR)
	unshare --net -- sh -c 'ip link set lo up && exec $(MAKE) test'

unit: $(STAMP)
	$(BIN)/python -m pytest -m unit tests

integration: $(STAMP)
	$(BIN)/python -m pytest -m integration tests

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests

format: $(STAMP)
	$(BIN)/ruff check --fix layers functions clients tests benchmarks
	$(BIN)/ruff format layers functions clients tests benchmarks

BENCH_STAMP := $(VENV)/.bench-installed

# The benchmarks' anchors (faiss, pdqhash, imagehash) and photo sources; vpdq, the reference video
# anchor, compiles against ffmpeg's headers (Debian: libavcodec-dev libavformat-dev libavdevice-dev
# libavfilter-dev libswscale-dev libswresample-dev libavutil-dev): without them bench_video.py
# says so and runs the reference steps with PyAV + pdqhash instead.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check vpdq \
		|| echo "*** vpdq did not build (ffmpeg headers missing?): bench_video.py will use its re-implemented anchor ***"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_image_speed.py
	$(BIN)/python benchmarks/bench_robustness.py
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_video.py
	$(BIN)/python benchmarks/bench_local_check.py
	$(BIN)/python benchmarks/bench_cold_start.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# ---------------------------------------------------------------- template and SAM (offline)
SAM_ENV := AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
SAM := .venv-tools/bin/sam
CHECKOV_VERSION := 3.3.30
# `sam build` runs pip for a function only if its folder holds a requirements.txt, and then needs a
# python3.12 on PATH; the layers (BuildMethod makefile) pick wheels for the Lambda target with
# whatever python3 is first. Put pyenv's newest 3.12 first when there is one.
PY312_BIN := $(lastword $(sort $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.12.*/bin)))
SAM_PATH := $(if $(PY312_BIN),$(PY312_BIN):)$(PATH)
LAMBDA_UNZIPPED_LIMIT := 262144000

# template.yaml with Fn::ForEach expanded (Platforms default) and the SAM transform applied, for
# scanners that skip Fn::ForEach (checkov) or SAM resources. Offline: no AWS calls.
define EXPAND_TEMPLATE
import json, sys
from cfnlint.decode import decode
from cfnlint.template import Template
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
cfn = Template(sys.argv[1], decode(sys.argv[1])[0], ["us-east-1"])
cfn.transform()
template = json.loads(json.dumps(cfn.template))
template.pop("Globals", None)
template["Transform"] = "AWS::Serverless-2016-10-31"
for resource in template["Resources"].values():
    key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(resource["Type"])
    if key:
        resource["Properties"][key] = "s3://placeholder/artifact.zip"
translated = Translator(None, Parser()).translate(template, {}, get_managed_policy_map=dict)
json.dump(translated, sys.stdout, indent=1)
endef
export EXPAND_TEMPLATE

.PHONY: sam-tools sam-validate lint-template sam-build layer-size deps-closure checkov api-fuzz

$(SAM): .ci/tools-requirements.txt
	python3 -m venv .venv-tools
	.venv-tools/bin/pip install --quiet --disable-pip-version-check -r .ci/tools-requirements.txt
	touch $@

sam-tools: $(SAM)

build/template.expanded.json: template.yaml $(SAM)
	mkdir -p build
	$(SAM_ENV) .venv-tools/bin/python -c "$$EXPAND_TEMPLATE" template.yaml > $@.tmp
	mv $@.tmp $@

sam-validate: $(SAM)
	$(SAM_ENV) $(SAM) validate --lint --language-extensions --template template.yaml
	$(SAM_ENV) $(SAM) validate --lint --template member/template.yaml

lint-template: $(STAMP) build/template.expanded.json
	$(BIN)/cfn-lint template.yaml member/template.yaml
	$(BIN)/cfn-lint build/template.expanded.json

sam-build: $(SAM)
	PATH="$(SAM_PATH)" $(SAM_ENV) $(SAM) build --language-extensions --template template.yaml
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) layer-size
	PATH="$(SAM_PATH)" $(SAM_ENV) $(SAM) build --template member/template.yaml --build-dir .aws-sam/member

# Lambda's limit is 250 MB unzipped for a function plus all its layers. The library layer holds
# what the functions run and nothing else: no tools (CLI, client, demo, edits, samples, local stack, fakes).
layer-size:
	@for fn in HashFunction CheckFunction ShareFunction LookupFunction SnapshotFunction CompactionFunction RetroScanFunction; do \
		total=$$(du -sb .aws-sam/build/HashmatchLayer .aws-sam/build/DepsLayer .aws-sam/build/$$fn | awk '{s += $$1} END {print s}'); \
		echo "$$fn + layers: $$total bytes unzipped (limit $(LAMBDA_UNZIPPED_LIMIT))"; \
		test $$total -lt $(LAMBDA_UNZIPPED_LIMIT) || { echo "$$fn is over Lambda's unzipped size limit" >&2; exit 1; }; \
	done
	@echo "HashmatchLayer: $$(du -sb .aws-sam/build/HashmatchLayer | cut -f1) bytes; DepsLayer: $$(du -sb .aws-sam/build/DepsLayer | cut -f1) bytes"
	@! find .aws-sam/build/HashmatchLayer -name 'hashmatch_tools' -o -name 'cli.py' -o -name 'demo.py' \
		-o -name 'edits.py' -o -name 'samples.py' -o -name 'fakes.py' -o -path '*/local/*' | grep . \
		|| { echo "the library layer holds tool code (above)" >&2; exit 1; }

deps-closure:
	$(MAKE) -C layers/deps check-closure

.venv-checkov/bin/checkov:
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)

# checkov skips resources inside Fn::ForEach: scan the template and its expansion.
checkov: .venv-checkov/bin/checkov build/template.expanded.json
	.venv-checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	.venv-checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f build/template.expanded.json

# schemathesis against the local stack's lookup API (openapi/lookup.yaml, openapi/schemathesis.toml),
# in a virtual environment of its own. The integration tests (test_lookup_api.py) keep the document
# true on every `make test`; this fuzzes it further.
SCHEMATHESIS_VERSION := 4.32.5

.venv-schemathesis/bin/st:
	python3 -m venv .venv-schemathesis
	.venv-schemathesis/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)

api-fuzz: $(STAMP) .venv-schemathesis/bin/st
	$(BIN)/python .ci/api_fuzz.py --st .venv-schemathesis/bin/st
