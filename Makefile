# Acme Platform. The two commands: `make run` (the whole topology up) and `make test` (every test).
# Both set up what is missing first: infrastructure, the daprd sidecar, code generators.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false
# Built tools and the sidecar live here, outside the repository; ACME_CACHE moves it.
ACME_CACHE ?= $(HOME)/.cache/acme-platform
export ACME_CACHE
CACHE := $(ACME_CACHE)
TOOLS := $(CACHE)/tools
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
# The S3-compatible server of make infra and the e2e suite.
VERSITYGW := github.com/versity/versitygw/cmd/versitygw@v1.8.0
# The mail catcher of make infra and the e2e suite.
MAILPIT := github.com/axllent/mailpit@v1.27.11
# Stripe's stand-in for make infra and the e2e suite.
STRIPE_MOCK := github.com/stripe/stripe-mock@v0.203.0
# v5.8.2 and later need Go 1.27.
KUSTOMIZE_VERSION := v5.8.1
# Bounded fuzzing per target in make test.
# Fuzzing budgets count executions, not seconds: a duration budget races Go's fuzzing coordinator at
# its deadline on a loaded machine ("context deadline exceeded" with no failing input, seen here).
FUZZTIME ?= 50000x

.PHONY: help run test bench images infra sidecar tools proto subscriptions configs lint check-generated unit e2e fuzz clean

help:
	@echo "make run    - infrastructure, sidecar, then every app of dapr.yaml with its daprd (Ctrl-C stops all)"
	@echo "make test   - infrastructure, sidecar, lint, unit and repository tests, fuzzing, e2e against the real topology"
	@echo "make bench  - the request path's load harness: bare two-sidecar ceiling vs the gateway's authenticated reads (not a test)"
	@echo "make images - a container image per app of dapr.yaml (services/Dockerfile, or the app's own), where Docker is installed"
	@echo "make infra  - PostgreSQL, Redis, Apache Kafka, S3, mail and stripe-mock on 127.0.0.1, dev secrets, databases"
	@echo "make sidecar- build daprd v1.16.2 from the module proxy (cached in $(CACHE))"
	@echo "make proto  - regenerate contracts/gen/go from contracts/proto"
	@echo "make subscriptions - regenerate components/*/subscriptions.yaml from contracts/consumers/consumers.yaml"
	@echo "make configs - regenerate each app's sidecar Configuration (components/*/config-<app>.yaml) from config.yaml and components/secret-scopes.yaml"

# The launcher is built and exec'd (not `go run`), so SIGTERM and Ctrl-C reach it directly.
run: infra
	@daprd=$$(deploy/local/sidecar.sh) && jaeger=$$(deploy/local/jaeger.sh) && go build -o .data/bin/launch ./deploy/local/cmd/launch && \
	  go build ./services/... && exec .data/bin/launch -f dapr.yaml -daprd "$$daprd" -jaeger "$$jaeger"

test: infra lint check-generated
	@daprd=$$(deploy/local/sidecar.sh) && s3=$$(deploy/local/gobin.sh $(VERSITYGW)) && mail=$$(deploy/local/gobin.sh $(MAILPIT)) && \
	  export STRIPE_MOCK=$$(deploy/local/gobin.sh $(STRIPE_MOCK)) && \
	  export KAFKA_CLASSPATH=$$(deploy/local/java.sh kafka) OPENSEARCH_CLASSPATH=$$(deploy/local/java.sh opensearch) && \
	  export POLYGLOT_PYTHON=$$(deploy/local/venv.sh tests/polyglot/requirements.txt) && \
	  export SCHEMATHESIS_PYTHON=$$(deploy/local/venv.sh tests/schemathesis/requirements.txt) && \
	  export KUBE_BIN=$$(deploy/local/apiserver.sh) JAEGER=$$(deploy/local/jaeger.sh) && \
	  (cd deploy/local/sidecar && go test -count=1 ./resolvercache/) && \
	  DAPRD="$$daprd" go test -count=1 -timeout 15m $$(go list ./... | grep -v /tests/e2e) && \
	  $(MAKE) --no-print-directory fuzz && \
	  DAPRD="$$daprd" VERSITYGW="$$s3" MAILPIT="$$mail" go test -count=1 -timeout 15m -v ./tests/e2e/... && \
	  echo "e2e: the search tests again, with search on its Elasticsearch adapter against OpenSearch" && \
	  E2E_SEARCH_BACKEND=elasticsearch DAPRD="$$daprd" VERSITYGW="$$s3" MAILPIT="$$mail" \
	    go test -count=1 -timeout 15m -v -run '^TestSearch_' ./tests/e2e/

# The request path's load harness (tests/load): the topology beside a bare two-sidecar path, measured
# alternately; prints rps, p50/p99 and the ratio to the bare path. A benchmark: never part of make test.
bench: infra
	@daprd=$$(deploy/local/sidecar.sh) && go build ./services/... && DAPRD="$$daprd" go run ./tests/load

# One image per app of dapr.yaml, built from the repository's root with services/Dockerfile (Go), or
# the app's own services/<app>/Dockerfile where it has one; TAG names them (default: dev).
# Docker is not on every machine that runs make test; there the Dockerfiles are checked by
# deploy/kubernetes/images_test.go and the apps' static builds are made without it.
TAG ?= dev
images:
	@docker info >/dev/null 2>&1 || { echo "make images: no Docker daemon answers on this machine" >&2; exit 1; }
	@docker buildx version >/dev/null 2>&1 || { echo "make images: the Dockerfiles use BuildKit (cache mounts); install docker-buildx" >&2; exit 1; }
	@for app in $$(sed -n 's/^  - appID: //p' dapr.yaml); do \
	  if [ -f services/$$app/Dockerfile ]; then f=services/$$app/Dockerfile; else f=services/Dockerfile; fi; \
	  echo "images: acme/$$app:$(TAG) ($$f)" && \
	  docker buildx build --load -q -f $$f --build-arg APP=$$app -t acme/$$app:$(TAG) . || exit 1; \
	done

infra:
	@deploy/local/infra.sh

sidecar:
	@deploy/local/sidecar.sh

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/kustomize
$(TOOLS)/buf:
	GOBIN=$(TOOLS) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(TOOLS)/kustomize:
	GOBIN=$(TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

proto: tools
	cd contracts && rm -rf gen/go && PATH=$(TOOLS):$$PATH buf generate

# The Dapr Subscription resources of both environments, from the one declaration of consumers; a unit
# test fails when they are stale.
subscriptions:
	go run ./deploy/local/cmd/subscriptions

configs:
	go run ./deploy/local/cmd/configs

# The committed generated code must be what the generators make of the contracts now.
check-generated: tools
	@tmp=$$(mktemp -d) && cp -r contracts/proto contracts/buf.gen.yaml $$tmp/ && \
	  (cd $$tmp && PATH=$(TOOLS):$$PATH buf generate) && \
	  diff -r $$tmp/gen/go contracts/gen/go && rm -rf $$tmp && echo "generated code is current"

lint: tools
	@cd contracts/proto && $(TOOLS)/buf lint && echo "buf lint: clean"
	@out=$$(gofmt -l services deploy tests contracts/avro); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }
	@go vet ./... && echo "go vet: clean"
	@for o in deploy/kubernetes/overlays/*; do $(TOOLS)/kustomize build $$o >/dev/null || exit 1; done && echo "kustomize: every overlay renders"

fuzz:
	go test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./services/gateway/internal/httpapi
	go test -run '^$$' -fuzz '^FuzzSettingsSchema$$' -fuzztime $(FUZZTIME) ./services/projects/internal/adapters

clean:
	rm -rf .data
