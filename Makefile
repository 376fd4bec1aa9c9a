# xcc-rtc build. `make help` lists the targets.
GO       ?= go
BIN      ?= bin
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: help build test vet fuzz-smoke bench demo clean

help:
	@echo "build       every command into ./$(BIN)"
	@echo "test        go vet and go test -race over everything"
	@echo "fuzz-smoke  every fuzz target for $(FUZZTIME) each"
	@echo "bench       the benchmarks"
	@echo "demo        embedded NATS + XCtrl + test node + client call"

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf $(BIN)
