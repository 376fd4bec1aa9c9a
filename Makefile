# xcc-rtc build. `make help` lists the targets.
GO       ?= go
BIN      ?= bin
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: help build test vet fuzz-smoke fuzz-long bench demo clean module install-module test-freeswitch bench-media chaos

help:
	@echo "build       every command into ./$(BIN)"
	@echo "test        go vet and go test -race over everything"
	@echo "fuzz-smoke  every fuzz target for $(FUZZTIME) each"
	@echo "fuzz-long   every fuzz target for 10 minutes each (not part of test)"
	@echo "chaos       the chaos suite at full scale (tools/xrtc-chaos; CHAOS_FLAGS e.g. --scenarios node-kill)"
	@echo "bench       the benchmarks"
	@echo "bench-media 200 concurrent calls with DTLS-SRTP media (xrtc-demo --bench)"
	@echo "bench-vs-modverto  the same Verto load on XCtrl and (when installed) mod_verto: logins/s, RSS/socket, ping"
	@echo "bench-scale 3 NATS servers, 3 XCtrl, 4 nodes, 15,000 sockets, 200 cross-instance calls (xrtc-scale)"
	@echo "demo        embedded NATS + XCtrl + test node + client call"
	@echo "module      build mod_xrtc.so against FreeSWITCH (pkg-config or FREESWITCH_PREFIX)"
	@echo "install-module  copy mod_xrtc.so and a sample xcc-rtc.conf.xml into FreeSWITCH"
	@echo "test-freeswitch integration tests against a real FreeSWITCH (skip when absent)"
	@echo "bench-load-vs-modverto  xrtc-client load against XCtrl and stock mod_verto, side by side"

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./tools/... ./ctrl/cmd/...

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

test: vet
	$(GO) test -race -timeout 12m $(PKGS)

# Runs each fuzz target alone (go test -fuzz takes one target at a time).
fuzz-smoke:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Every fuzz target for 10 minutes each: the fuzz-smoke loop, longer.
fuzz-long:
	@$(MAKE) --no-print-directory fuzz-smoke FUZZTIME=10m

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The chaos suite (tools/xrtc-chaos) at full scale: NATS, XCtrl and nodes as
# processes killed and stopped for real, 20 calls with real media, 200 idle
# sockets, 2,000 sockets that never log in, NATS down 60 s, a 3-server
# cluster. Prints what survived; exit 1 when a call was lost. Not part of
# test (about 5 minutes).
CHAOS_FLAGS ?=
chaos:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./ctrl/cmd/xctrl ./tools/xrtc-natsd ./tools/xrtc-node ./tools/xrtc-chaos
	$(BIN)/xrtc-chaos $(CHAOS_FLAGS)

clean:
	rm -rf $(BIN)

# ---- the FreeSWITCH module (module/freeswitch) ------------------------------
# FreeSWITCH is found with pkg-config (freeswitch.pc), looked for first in
# $(FREESWITCH_PREFIX)/lib/pkgconfig (default /usr/local/freeswitch), then in
# PKG_CONFIG_PATH and pkg-config's own path.
FREESWITCH_PREFIX ?=
MODULE_SO         ?= $(BIN)/mod_xrtc.so
fs_empty          :=
fs_space          := $(fs_empty) $(fs_empty)
FS_PC_DIRS        := $(strip $(foreach d,$(or $(FREESWITCH_PREFIX),/usr/local/freeswitch),$(if $(wildcard $(d)/lib/pkgconfig/freeswitch.pc),$(d)/lib/pkgconfig)))
FS_PC_PATH        := $(subst $(fs_space),:,$(strip $(FS_PC_DIRS) $(filter-out $(FS_PC_DIRS),$(subst :, ,$(PKG_CONFIG_PATH)))))
FS_PKG_CONFIG     := PKG_CONFIG_PATH="$(FS_PC_PATH)" pkg-config
FS_CHECK           = command -v pkg-config >/dev/null || { echo "$@: pkg-config is not installed (apt-get install pkg-config)"; exit 1; }; \
	$(FS_PKG_CONFIG) --exists freeswitch || { echo "$@: FreeSWITCH not found: pkg-config knows no 'freeswitch'."; \
	echo "  Install FreeSWITCH with its development files, then set FREESWITCH_PREFIX=<prefix> (the folder holding"; \
	echo "  lib/pkgconfig/freeswitch.pc, e.g. /usr/local/freeswitch) or PKG_CONFIG_PATH."; exit 1; }

.PHONY: module install-module test-freeswitch

module:
	@$(FS_CHECK)
	@mkdir -p $(dir $(MODULE_SO))
	@echo "building $(MODULE_SO) against FreeSWITCH $$($(FS_PKG_CONFIG) --modversion freeswitch) in $$($(FS_PKG_CONFIG) --variable=prefix freeswitch)"
	PKG_CONFIG_PATH="$(FS_PC_PATH)" CGO_ENABLED=1 nice -n 10 $(GO) build -buildmode=c-shared -tags freeswitch -o $(MODULE_SO) ./module/freeswitch
	@rm -f $(MODULE_SO:.so=.h)

# Copies the module into FreeSWITCH's mod dir (refused while a FreeSWITCH
# runs: overwriting a loaded .so can crash it) and installs a commented
# xcc-rtc.conf.xml into autoload_configs unless one is there.
install-module: module
	@moddir=$$($(FS_PKG_CONFIG) --variable=modulesdir freeswitch); \
	confdir=$$($(FS_PKG_CONFIG) --variable=confdir freeswitch); \
	test -n "$$moddir" -a -d "$$moddir" || { echo "install-module: no FreeSWITCH mod dir ($$moddir)"; exit 1; }; \
	if pids=$$(pgrep -x freeswitch); then \
	  echo "install-module: refused: FreeSWITCH is running (pid $$(echo $$pids)); overwriting a loaded module can crash it."; \
	  echo "  Stop it first (fs_cli -x shutdown), then run make install-module again."; exit 1; fi; \
	install -m 0755 $(MODULE_SO) "$$moddir/mod_xrtc.so" && echo "installed $$moddir/mod_xrtc.so"; \
	conf="$$confdir/autoload_configs/xcc-rtc.conf.xml"; \
	if [ -d "$$confdir/autoload_configs" ] && [ ! -e "$$conf" ]; then \
	  $(GO) run ./tools/xrtc-conf init -o "$$conf" && echo "installed a sample $$conf (set nats-url, rtp-ip)"; \
	elif [ -e "$$conf" ]; then echo "kept $$conf"; fi; \
	echo "load it with: fs_cli -x 'load mod_xrtc' (or <load module=\"mod_xrtc\"/> in modules.conf.xml)"

# The real-FreeSWITCH tests: build and install the module, start a
# FreeSWITCH (own conf/log/db/run folders), load mod_xrtc against an
# embedded NATS, make calls. They skip, saying why, without FreeSWITCH.
test-freeswitch:
	FREESWITCH_PREFIX="$(FREESWITCH_PREFIX)" $(GO) test -tags freeswitch -count=1 -v -timeout 20m ./module/freeswitch/integration/...

# ---- XCtrl against mod_verto (tools/xrtc-bench) ------------------------------
# The same load (a client child process) against an XCtrl child process and,
# when FreeSWITCH is installed (FREESWITCH_PREFIX, default
# /usr/local/freeswitch), against its mod_verto on ws://127.0.0.1:8081 (stock
# users 1000-1019/1234@127.0.0.1); the mod_verto phase takes
# /tmp/freeswitch.lock and stops the FreeSWITCH it started.
# VS_FLAGS e.g. "--sockets 4000 --modverto-sockets 4000 --no-modverto".
VS_FLAGS ?=

.PHONY: bench-vs-modverto

bench-vs-modverto:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./tools/xrtc-bench
	$(BIN)/xrtc-bench --freeswitch "$(or $(FREESWITCH_PREFIX),/usr/local/freeswitch)" $(VS_FLAGS)

# The scale-out run: an in-process 3-server NATS cluster (registry replicas
# 3), 3 XCtrl, 4 test nodes, SCALE_SOCKETS idle sockets over the instances
# (client child processes), SCALE_CALLS media calls to users logged in on
# another instance; prints logins/s, invites/s, lookup p50/p99.
SCALE_SOCKETS ?= 15000
SCALE_CALLS   ?= 200
SCALE_FLAGS   ?=

.PHONY: bench-scale

bench-scale:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./tools/xrtc-scale
	$(BIN)/xrtc-scale --sockets $(SCALE_SOCKETS) --calls $(SCALE_CALLS) $(SCALE_FLAGS)

# ---- the demo and the media benchmark (tools/xrtc-demo) ---------------------
# demo: embedded NATS + an XCtrl + a test node (module/testhost: pion, not
# FreeSWITCH) + a headless WebRTC client calling the echo extension 9196,
# all in one process on 127.0.0.1; prints the client's report, exits 0 when
# audio flowed both ways. DEMO_FLAGS e.g. "--duration 10s --json".
# bench-media: the servers (NATS + XCtrl + test node) in one process,
# BENCH_CALLS concurrent echo calls with DTLS-SRTP from another; prints the
# calls held, packet loss, setup p50/p99, memory per peer connection, CPU.
DEMO_FLAGS  ?=
BENCH_CALLS ?= 200
BENCH_RATE  ?= 10
BENCH_HOLD  ?= 20s
BENCH_FLAGS ?=

.PHONY: bench-media

demo:
	$(GO) run ./tools/xrtc-demo $(DEMO_FLAGS)

bench-media:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./tools/xrtc-demo
	$(BIN)/xrtc-demo --bench --calls $(BENCH_CALLS) --rate $(BENCH_RATE) --hold $(BENCH_HOLD) $(BENCH_FLAGS)

# The same xrtc-client load against XCtrl (+ test node) and a stock FreeSWITCH
# mod_verto, side by side (setup p50/p99, loss, server memory per call). Without
# FreeSWITCH it says so and runs the XCtrl side only.
LOAD_CALLS    ?= 20
LOAD_RATE     ?= 5
LOAD_DURATION ?= 20s

.PHONY: bench-load-vs-modverto

bench-load-vs-modverto:
	LOAD_CALLS=$(LOAD_CALLS) LOAD_RATE=$(LOAD_RATE) LOAD_DURATION=$(LOAD_DURATION) BIN=$(BIN) bash tools/xrtc-client/bench-load-vs-modverto.sh
