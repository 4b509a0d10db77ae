# sendblue-operator. `make help` lists the targets.

# Tool versions, pinned. Binaries go to ./bin (ignored by git).
CONTROLLER_TOOLS_VERSION ?= v0.23.0
LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# The chart's and the monitoring's tools, built from the Go module proxy.
HELM_VERSION ?= v3.22.0
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
# helm-unittest's version is pinned in hack/tools/helm-unittest/go.mod (a
# wrapper module: its own go.mod has a replace line go install refuses).
HELM_UNITTEST_VERSION ?= $(shell sed -n 's/^require github.com\/helm-unittest\/helm-unittest //p' hack/tools/helm-unittest/go.mod)
HELM_UNITTEST ?= $(LOCALBIN)/helm-unittest-$(HELM_UNITTEST_VERSION)
PROMTOOL_VERSION ?= v0.316.0
PROMTOOL ?= $(LOCALBIN)/promtool-$(PROMTOOL_VERSION)

# Image for docker-build and (later) deploy.
IMG ?= sendblue-operator:dev

# Go test flags; e.g. `make test GOTESTFLAGS='-run Client -v'`.
GOTESTFLAGS ?= -race -count=1

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and RBAC under config/ from the kubebuilder markers, and the chart's copies of them.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac/manager
	@# The chart reads these copies (one source: a drift fails make test).
	cp config/crd/bases/*.yaml charts/sendblue-operator/files/crds/
	cp config/rbac/manager/role.yaml charts/sendblue-operator/files/manager-role.yaml
	cp config/prometheus/prometheusrule.yaml charts/sendblue-operator/files/prometheusrule.yaml
	cp config/grafana/sendblue-operator-dashboard.json charts/sendblue-operator/files/sendblue-operator-dashboard.json

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: fmt-check
fmt-check: ## Fail if any Go file is not gofmt-formatted.
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed (run make fmt):"; echo "$$files"; exit 1; fi

.PHONY: verify-generated
verify-generated: controller-gen ## Fail if `make manifests generate` changes anything.
	hack/verify-generated.sh "$(MAKE)"

.PHONY: test-e2e
test-e2e: ## Only the end-to-end tests: the manager binary and kubectl against a local control plane and the emulator.
	@assets=$$(hack/envtest-assets.sh $$([ -x /usr/bin/kubectl ] || echo --kubectl)) || exit 1; \
	KUBEBUILDER_ASSETS="$$assets" go test $(GOTESTFLAGS) ./test/e2e/...

CHAOS_ROUNDS ?= 200
CHAOS_SEED ?= 1

.PHONY: chaos
chaos: ## Run the chaos suite: CHAOS_ROUNDS (200) seeded rounds of faults, kills and changes against the manager binary.
	@assets=$$(hack/envtest-assets.sh $$([ -x /usr/bin/kubectl ] || echo --kubectl)) || exit 1; \
	CHAOS_ROUNDS=$(CHAOS_ROUNDS) CHAOS_SEED=$(CHAOS_SEED) KUBEBUILDER_ASSETS="$$assets" go test ./test/chaos -run TestChaos -count=1 -v -timeout 60m

BENCH_ARGS ?=

.PHONY: bench
bench: ## Measure the operator at scale (manager binary, local control plane, emulator); BENCH_ARGS='--scales 1000/100' selects scales. Then the planner's Go benchmark.
	@assets=$$(hack/envtest-assets.sh $$([ -x /usr/bin/kubectl ] || echo --kubectl)) || exit 1; \
	go build -o $(LOCALBIN)/manager . && go build -o $(LOCALBIN)/bench ./hack/bench && \
	KUBEBUILDER_ASSETS="$$assets" $(LOCALBIN)/bench --manager $(LOCALBIN)/manager $(BENCH_ARGS) && \
	go test ./controllers -run XXX -bench BenchmarkPlanAccount -benchtime 20x

# A duration (60s) or an execution count (200000x). With go1.26 a duration can
# end in a spurious "context deadline exceeded" (golang/go#75804): a failure
# without "Failing input written to" is that race, not a finding.
FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 60s).
	go test ./controllers -run XXX -fuzz FuzzPlanAccount -fuzztime $(FUZZTIME)
	go test ./controllers/sendblue -run XXX -fuzz FuzzParseConfig -fuzztime $(FUZZTIME)

.PHONY: envtest
envtest: ## Build (once, cached outside the repo) etcd and kube-apiserver for envtest; print their directory.
	@hack/envtest-assets.sh

.PHONY: sdk-deps
sdk-deps: ## Install the official Sendblue SDK (npm, pinned) for the conformance test into test/sdk/node_modules.
	@command -v npm >/dev/null || { echo "npm is required for the SDK conformance test (Node.js 20+)"; exit 1; }
	@if [ ! -f test/sdk/node_modules/.package-lock.json ] || [ test/sdk/package-lock.json -nt test/sdk/node_modules/.package-lock.json ]; then \
		echo "npm ci in test/sdk"; npm ci --prefix test/sdk --no-audit --no-fund --loglevel=error; \
	fi

.PHONY: test
test: fmt-check vet verify-generated sdk-deps chart-tools ## Run every check and test: gofmt, vet, generated files, unit, envtest, e2e, SDK, chart and alert tests.
	@echo "Preparing the envtest control plane (hack/envtest-assets.sh)"; \
	assets=$$(hack/envtest-assets.sh $$([ -x /usr/bin/kubectl ] || echo --kubectl)) || exit 1; \
	echo "KUBEBUILDER_ASSETS=$$assets"; \
	KUBEBUILDER_ASSETS="$$assets" HELM="$(HELM)" HELM_UNITTEST="$(HELM_UNITTEST)" PROMTOOL="$(PROMTOOL)" go test $(GOTESTFLAGS) ./...
	@echo "A few seconds of each fuzz target (make fuzz runs them longer)"
	@# Budgets are execution counts, not durations: with go1.26 a duration
	@# -fuzztime can end in a spurious "context deadline exceeded" failure
	@# (golang/go#75804, fixed in go1.27); a count has no deadline to race.
	go test ./controllers -run XXX -fuzz FuzzPlanAccount -fuzztime 10000x
	go test ./controllers/sendblue -run XXX -fuzz FuzzParseConfig -fuzztime 30000x

##@ Build

.PHONY: build
build: fmt vet ## Build the manager binary into bin/manager.
	go build -o $(LOCALBIN)/manager .

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-sendblue (put bin/ on PATH: kubectl sendblue ...).
	go build -o $(LOCALBIN)/kubectl-sendblue ./cmd/kubectl-sendblue

.PHONY: emulator
emulator: ## Build the emulator (Sendblue and Everlytic on one port) into bin/sendblue-emulator.
	go build -o $(LOCALBIN)/sendblue-emulator ./hack/sendblue-emulator

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in your kubeconfig.
	go run ./main.go

.PHONY: demo
demo: ## Run the operator locally, no cluster or Sendblue account needed: control plane, emulator, samples, manager. Ctrl-C stops it.
	@echo "[build] hack/envtest-assets.sh: etcd and kube-apiserver (cached after the first run; the first takes minutes)"; \
	assets=$$(hack/envtest-assets.sh $$([ -x /usr/bin/kubectl ] || echo --kubectl)) || { echo "demo: the control-plane binaries could not be built (see above)"; exit 1; }; \
	echo "[build] bin/manager and bin/demo"; \
	go build -o $(LOCALBIN)/manager . && go build -o $(LOCALBIN)/demo ./hack/demo || { echo "demo: build failed (see above)"; exit 1; }; \
	KUBEBUILDER_ASSETS="$$assets" exec $(LOCALBIN)/demo --manager $(LOCALBIN)/manager $(DEMO_ARGS)

##@ Deployment (a real cluster, from your kubeconfig)

KUBECTL ?= kubectl

.PHONY: install
install: manifests ## Install the CRDs into the cluster.
	$(KUBECTL) apply -k config/crd

# Deleting a CRD deletes every object of its kind; a manager still running
# then removes, from Sendblue and Everlytic, the webhooks of every object with
# the default deletionPolicy: Delete. uninstall does it only when asked twice.
CONFIRM ?=

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs, and with them every object of their kinds (asks for CONFIRM=delete-every-object).
	@echo "uninstall: deleting the CRDs deletes every SendblueWebhookSet and EverlyticSMSWebhook in the cluster:"; \
	for k in sendbluewebhooksets.sendblue.webhooks.dev everlyticsmswebhooks.everlytic.webhooks.dev; do \
		n=$$($(KUBECTL) get $$k -A --no-headers --ignore-not-found 2>/dev/null | wc -l); echo "  $$k: $$n object(s)"; \
	done; \
	echo "  a manager still running removes the webhooks of those with deletionPolicy: Delete (the default);"; \
	echo "  run make undeploy first to leave every webhook in place."
	@[ "$(CONFIRM)" = delete-every-object ] || { echo "uninstall: not done; run make uninstall CONFIRM=delete-every-object" >&2; exit 1; }
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator (CRDs, RBAC, manager) with image IMG.
	$(KUBECTL) kustomize config/default | sed 's|image: sendblue-operator:dev|image: $(IMG)|' | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: ## Remove the operator (RBAC, manager); the CRDs and every object stay, and so do their webhooks.
	$(KUBECTL) delete --ignore-not-found -k config/operator

NAMESPACES ?=

.PHONY: namespaced-manifests
namespaced-manifests: manifests ## Print the namespaced installation for NAMESPACES=a,b (Roles there only; no cluster-wide Secret access).
	@[ -n "$(NAMESPACES)" ] || { echo "set NAMESPACES=team-a,team-b" >&2; exit 1; }
	@$(KUBECTL) kustomize config/namespaced | sed 's|image: sendblue-operator:dev|image: $(IMG)|' | go run ./hack/namespaced --namespaces "$(NAMESPACES)"

.PHONY: deploy-namespaced
deploy-namespaced: ## Deploy the namespaced installation for NAMESPACES=a,b with image IMG.
	$(MAKE) -s namespaced-manifests NAMESPACES="$(NAMESPACES)" IMG="$(IMG)" | $(KUBECTL) apply -f -

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: chart-tools
chart-tools: $(HELM) $(HELM_UNITTEST) $(PROMTOOL) ## Build helm, helm-unittest and promtool into ./bin at the pinned versions.

$(HELM): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv -f $(LOCALBIN)/helm $(HELM)

$(HELM_UNITTEST): hack/tools/helm-unittest/go.mod | $(LOCALBIN)
	cd hack/tools/helm-unittest && go build -o $(HELM_UNITTEST) github.com/helm-unittest/helm-unittest/cmd/helm-unittest

$(PROMTOOL): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)
	mv -f $(LOCALBIN)/promtool $(PROMTOOL)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into ./bin at the pinned version.
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv -f $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
