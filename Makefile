# Warden: build, test and run. `make test` installs what it needs on a fresh Debian machine.
SHELL       := /bin/bash
SWIFT       ?= swift
CONFIG      ?= etc/warden.yaml
APT_PKGS    := libsqlite3-dev libcurl4-openssl-dev libsystemd-dev libsecp256k1-dev python3-venv pkg-config systemd sqlite3 python3 faketime curl chromium chromium-driver python3-selenium prometheus supervisor wrk redis-server php-fpm libfcgi-bin

.PHONY: deps build test run demo clean bench chaos chaos-quick fuzz

# libFuzzer + AddressSanitizer build of warden-fuzz (its own build folder: every module instrumented).
FUZZ_SECONDS ?= 300
FUZZ_BUILD  := $(SWIFT) build --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -gnone --product warden-fuzz
FUZZ_TARGETS := market books channel frame form notify config numbers recording clob

# Idempotent: installs only the Debian packages that are missing.
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

# Every import must be a declared dependency of its target (Package.swift says what each module uses).
CHECKS      := --explicit-target-dependency-import-check=error

build: deps
	$(SWIFT) build $(CHECKS)

# The whole suite: unit tests and the integration tests that start the real binaries, then the chaos quick
# pass (every stack scenario of warden-chaos once, after the tests so nothing competes for the CPU), then the
# fuzz corpora replayed and each libFuzzer harness run briefly. The last lines list every failure; the logs are
# in test-output/.
test: build
	$(SWIFT) build --build-tests $(CHECKS)
	@mkdir -p test-output
	@set -o pipefail; BIN="$$($(SWIFT) build --show-bin-path)"; \
	  WARDEN_BIN_DIR="$$BIN" $(SWIFT) test --skip-build --disable-xctest 2>&1 | tee test-output/test.log; tests=$$?; \
	  "$$BIN/warden-chaos" --bin "$$BIN" --quick --report test-output/chaos-quick.md 2>&1 | tee test-output/chaos.log; chaos=$$?; \
	  fuzz=0; for t in $(FUZZ_TARGETS); do \
	    dirs="Fuzz/corpus/$$t"; [ -d "Fuzz/crashes/$$t" ] && dirs="$$dirs Fuzz/crashes/$$t"; \
	    "$$BIN/warden-fuzz" replay $$t $$dirs 2>&1 | tee -a test-output/fuzz.log || fuzz=1; \
	  done; \
	  { $(FUZZ_BUILD) > test-output/fuzz-build.log 2>&1 || { echo "FAIL fuzz build (test-output/fuzz-build.log)"; false; }; } && \
	    Fuzz/run.sh .build-fuzz/debug/warden-fuzz 15 test-output/fuzz 2>&1 | tee -a test-output/fuzz.log || fuzz=1; \
	  echo "---- failures (test-output/test.log, test-output/chaos.log, test-output/fuzz.log) ----"; \
	  grep -E "✘|recorded an issue|error:" test-output/test.log | tail -60; \
	  grep -E "FAIL|✘" test-output/chaos.log | tail -40; \
	  grep -E "FAIL" test-output/fuzz.log | tail -20; \
	  echo "tests exit $$tests, chaos quick pass exit $$chaos, fuzz exit $$fuzz"; \
	  [ $$tests -eq 0 ] && [ $$chaos -eq 0 ] && [ $$fuzz -eq 0 ]

# The supervisor in the foreground on the shipped configuration; Ctrl-C stops everything.
run: build
	"$$($(SWIFT) build --show-bin-path)/warden" --config $(CONFIG)

clean:
	rm -rf .build

# The whole stack offline against the loopback fakes: paper trades within a minute.
demo: build
	"$$($(SWIFT) build --show-bin-path)/warden" --config etc/demo.yaml

# Release builds link the Swift runtime and Foundation statically (as deploy/install.sh does): each process then
# maps only the parts it uses: about 5 MiB less resident memory per process than with the shared libraries.
RELEASE     := -c release --static-swift-stdlib

# The benchmark suite on a release build (supervisord side by side): writes Benchmarks/RESULTS.md.
bench: deps
	$(SWIFT) build $(RELEASE)
	BIN="$$($(SWIFT) build $(RELEASE) --show-bin-path)"; "$$BIN/warden-bench" --bin "$$BIN" --out Benchmarks/RESULTS.md

# The chaos suite: every FAULTS.md row injected into the running stack (F01 and F13 with 200 kills each),
# plus the integration tests that prove the rest; writes the report to Tests/FAULTS.md. About an hour.
chaos: build
	$(SWIFT) build --build-tests
	BIN="$$($(SWIFT) build --show-bin-path)"; SWIFT="$$(command -v $(SWIFT))" "$$BIN/warden-chaos" --bin "$$BIN" --kills 200 --tests --report Tests/FAULTS.md

# Every fuzz harness for FUZZ_SECONDS each (default 300) on its seed corpus; report in test-output/fuzz/summary.md.
fuzz: deps
	$(FUZZ_BUILD)
	Fuzz/run.sh .build-fuzz/debug/warden-fuzz $(FUZZ_SECONDS) test-output/fuzz

# The quick pass alone (make test runs it after the tests): each stack scenario once, small counts.
chaos-quick: build
	BIN="$$($(SWIFT) build --show-bin-path)"; "$$BIN/warden-chaos" --bin "$$BIN" --quick --report test-output/chaos-quick.md
