# vrfwall build. `make demo` and `make test` work on a fresh Debian machine as root.
SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD      := build
BPF_SRC    := $(wildcard bpf/*.c)
BPF_OBJ    := $(patsubst bpf/%.c,$(BUILD)/bpf/%.o,$(BPF_SRC))
BPF_HDR    := $(wildcard bpf/*.h bpf/lib/*.h)
FIXTURE_SRC := $(wildcard test/fixtures/*.bpf.c)
FIXTURE_OBJ := $(patsubst test/fixtures/%.bpf.c,$(BUILD)/fixtures/%.bpf.o,$(FIXTURE_SRC))
ADDON      := addon/build/Release/vrfwall_native.node
ARCH_INC   := /usr/include/$(shell uname -m)-linux-gnu
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Werror -I bpf -I $(ARCH_INC)

# Debian packages the build, the tests and the lab need.
APT_PKGS := clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 iputils-ping g++ make python3 nftables python3-grpcio python3-grpc-tools openssl python3-scapy chromium

.PHONY: deps build bpf addon ts api-types test test-unit demo clean check print-bpf-cflags print-api-types-flags test-real-apiserver package package-contents image image-test

deps: .stamp-apt node_modules/.package-lock.json

.stamp-apt: Makefile
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: deps bpf addon ts

bpf: $(BPF_OBJ) $(FIXTURE_OBJ)

$(BUILD)/bpf/%.o: bpf/%.c $(BPF_HDR) | deps
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/fixtures/%.bpf.o: test/fixtures/%.bpf.c $(BPF_HDR) | deps
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@

addon: $(ADDON)

# The BPF compiler flags, for tests that build the programs another way.
print-bpf-cflags:
	@echo $(BPF_CFLAGS)

$(ADDON): $(wildcard addon/*.cc addon/*.h) addon/binding.gyp | deps
	cd addon && ../node_modules/.bin/node-gyp rebuild --nodedir=/usr >/dev/null

# TypeScript types of the gRPC messages, generated from proto/ by @grpc/proto-loader's generator with the
# options the API loads the protos with (src/api/proto.ts LOADER_OPTIONS); committed, and checked up to date by
# test/api-types.test.ts.
PROTO_SRC := $(wildcard proto/vrfwall/v1/*.proto)
API_TYPES_DIR := src/api/generated
API_TYPES_FLAGS := --longs=Number --enums=String --defaults --oneofs --arrays --includeComments --grpcLib=@grpc/grpc-js --importFileExtension=.js
API_TYPES := $(API_TYPES_DIR)/flow.ts

api-types: $(API_TYPES)

$(API_TYPES): $(PROTO_SRC) | deps
	rm -rf $(API_TYPES_DIR)
	node_modules/.bin/proto-loader-gen-types $(patsubst proto/%,%,$(PROTO_SRC)) $(API_TYPES_FLAGS) -O $(API_TYPES_DIR) --includeDirs proto >/dev/null

print-api-types-flags:
	@echo $(API_TYPES_FLAGS)

# The web UI's graph library (cytoscape, a devDependency), vendored into ui/ so the package serves it with no
# CDN; src/relay/ui/server.ts serves ui/.
UI_VENDOR := ui/vendor/cytoscape.min.js
$(UI_VENDOR): package-lock.json | deps
	@mkdir -p $(@D)
	cp node_modules/cytoscape/dist/cytoscape.min.js $@
	cp node_modules/cytoscape/LICENSE $(@D)/cytoscape.LICENSE

ts: deps $(API_TYPES) $(UI_VENDOR)
	node_modules/.bin/tsc -p tsconfig.json

# The npm package: `npm install -g ./vrfwall-*.tgz` needs Node 20 and no compiler. The addon ships prebuilt
# (prebuildify; node-gyp-build loads it): N-API, so one build serves every Node >= 20 on linux-x64 glibc;
# libbpf inside it (statically), libelf and zlib from the system. Compiled from a copy of addon/ so that
# `make build`'s addon/build stays. `npm pack` alone runs package-contents too (prepack).
PREBUILD := addon/prebuilds/$(shell node -p 'process.platform + "-" + process.arch')/vrfwall_native.glibc.node
$(PREBUILD): $(wildcard addon/*.cc addon/*.h) addon/binding.gyp | deps
	rm -rf $(BUILD)/prebuild addon/prebuilds && mkdir -p $(BUILD)/prebuild
	cp addon/*.cc addon/*.h addon/binding.gyp $(BUILD)/prebuild/
	cd $(BUILD)/prebuild && npm_config_nodedir=/usr $(CURDIR)/node_modules/.bin/prebuildify --napi --strip --tag-libc \
	  --target=$$(node --version) --name=vrfwall_native --out=$(CURDIR)/addon >/dev/null
	@# libbpf must be inside: an installed machine has libelf and zlib (Debian always does), not libbpf.
	@if ldd $@ | grep libbpf; then echo "$@ links libbpf dynamically" >&2; rm -f $@; exit 1; fi

# dist/ for the package, compiled only when a source changed (the package test's `npm pack` runs this again).
dist/cli/main.js: $(shell find src -name '*.ts') tsconfig.json | deps
	node_modules/.bin/tsc -p tsconfig.json

package-contents: bpf dist/cli/main.js $(PREBUILD) $(UI_VENDOR)

package: package-contents
	@mkdir -p $(BUILD)/package
	npm pack --pack-destination $(BUILD)/package

check: build
	node_modules/.bin/tsc -p tsconfig.test.json

# package-contents: test/package.test.ts packs (its prepack then finds the prebuilt addon up to date).
test: build check package-contents
	node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json=$(BUILD)/vitest.json
	@node -e 'const r=require("./$(BUILD)/vitest.json"); console.log(`tests: $${r.numPassedTests} passed, $${r.numFailedTests} failed, $${r.numPendingTests} skipped`)'

# The `unit` project only (vitest.config.ts): no root, no kernel, no lab; its files run side by side.
# `make test` runs it too, with the `kernel` project, one file at a time.
test-unit: deps ts
	node_modules/.bin/vitest run --project unit --fileParallelism --maxWorkers=2

# The agent against a real kube-apiserver (issue 18), not part of `make test`: give the binary's path, e.g.
#   make test-real-apiserver KUBE_APISERVER=/tmp/realk8s/bin/kube-apiserver
# KUBECTL defaults to the kubectl next to it (else the one in PATH), ETCD to etcd (Debian's etcd-server);
# QUIET_SECONDS (default 100) is how long quiet watches must stay unrestarted. Runs in a network namespace
# of its own, everything on its 127.0.0.1; prints a pass/fail summary (build/real-apiserver-summary.txt).
KUBECTL ?= $(if $(wildcard $(dir $(KUBE_APISERVER))kubectl),$(dir $(KUBE_APISERVER))kubectl,kubectl)
ETCD ?= etcd
QUIET_SECONDS ?= 100
test-real-apiserver: build
	@test -n "$(KUBE_APISERVER)" || { echo "usage: make test-real-apiserver KUBE_APISERVER=/path/to/kube-apiserver [KUBECTL=...] [ETCD=etcd] [QUIET_SECONDS=100]"; exit 2; }
	@dpkg -s etcd-server >/dev/null 2>&1 || command -v $(ETCD) >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
	KUBE_APISERVER=$(abspath $(KUBE_APISERVER)) KUBECTL=$(KUBECTL) ETCD=$(ETCD) QUIET_SECONDS=$(QUIET_SECONDS) test/real-apiserver/run.sh

# Benchmarks (issue 6), not part of `make test`: bench/RESULTS.md and bench/results.json.
# BENCH_QUICK=1 runs every part briefly; BENCH_PARTS=progrun,traffic,controlplane,flowapi picks parts.
BENCH_APT := netsniff-ng iptables ipset nftables linux-perf
BENCH_OBJ := $(patsubst bench/bpf/%.bpf.c,$(BUILD)/bench/bpf/%.bpf.o,$(wildcard bench/bpf/*.bpf.c))

$(BUILD)/bench/bpf/%.bpf.o: bench/bpf/%.bpf.c | deps
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@

.PHONY: bench
bench: build $(BENCH_OBJ)
	@missing=$$(for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	node_modules/.bin/tsc -p bench/tsconfig.json
	@# the compiled bench finds dist/, the addon and deploy/ (the test API server reads its RBAC) relative to itself
	ln -sfn ../../dist $(BUILD)/bench/dist && ln -sfn ../../addon $(BUILD)/bench/addon && ln -sfn ../../deploy $(BUILD)/bench/deploy
	node $(BUILD)/bench/bench/main.js

# The agent image, not part of `make test`: image/Dockerfile built by Debian's podman on a base that
# image/base.sh makes with debootstrap (Debian mirror) and this machine's Node 20 (no container registry;
# cached: a rerun reuses the base and podman's layers). RUN steps: --network=host (apt and npm reach the
# network as this machine does; nothing is created in its network namespace), --isolation=chroot (crun
# cannot create containers on this host's hybrid cgroups). `make image-test` runs the image (with runc).
IMAGE_APT := podman buildah debootstrap runc
IMAGE     ?= localhost/vrfwall-agent:$(shell node -p 'require("./package.json").version')
NODE_BASE ?= localhost/vrfwall-node:20-bookworm

image:
	@missing=$$(for p in $(IMAGE_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	IMAGE=$(NODE_BASE) CACHE=$(BUILD)/image image/base.sh
	podman build --pull=never --network=host --isolation=chroot --build-arg NODE_IMAGE=$(NODE_BASE) \
	  -f image/Dockerfile -t $(IMAGE) .

image-test: build image
	IMAGE=$(IMAGE) node_modules/.bin/vitest run --config test/image/vitest.config.ts

demo: build
	node dist/cli/main.js lab run examples/cn2-isolated-namespace --flows

clean:
	rm -rf $(BUILD) dist addon/build addon/prebuilds .stamp-apt
