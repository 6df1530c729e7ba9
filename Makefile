# Miroir -- build, test and run.  See README.md.
#
#   make deps      install every Debian/npm dependency (idempotent, root)
#   make           build objs/ngx_miroir_module.so against Debian's nginx
#   make test      unit (Check) + emulator + integration (prove) suites
#   make run/stop  the embedded demo: nginx + module + 3 emulated nodes
#   make bench     benchmarks          make fuzz   bounded fuzzing
#   make release-notes VERSION=x.y.z   print that version's CHANGELOG section

SHELL       := /bin/bash
NGX_SRC     ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
PYTHON      ?= /usr/bin/python3
BUILD       ?= build
NGX_BUILD   := $(BUILD)/nginx
MODULE      ?= objs/ngx_miroir_module.so

CC          ?= gcc
SAN_FLAGS   ?=
CFLAGS_CORE ?= -std=c11 -O2 -g -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $(SAN_FLAGS)
CHECK_LIBS  := -lcheck -lsubunit -lm -lrt -lpthread -lcjson -lxxhash -lcrypto

NGX_C       := ngx_miroir_module.c $(wildcard src/ngx_miroir_*.c)
CORE_C      := $(filter-out src/ngx_%,$(wildcard src/miroir_*.c))
HEADERS     := $(wildcard src/*.h)
CORE_O      := $(patsubst src/%.c,$(BUILD)/core/%.o,$(CORE_C))
TESTS_C     := $(wildcard tests/test_*.c)
TESTS_BIN   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TESTS_C))
BENCH_C     := $(wildcard bench/bench_*.c)
BENCH_BIN   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_C))
FUZZ_C      := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_C))
FUZZ_SECONDS ?= 20

# The list of sources nginx's configure saw; a new or removed file re-runs it.
SRC_LIST    := $(BUILD)/srclist
SRC_NOW     := $(sort $(NGX_C) $(CORE_C))

.PHONY: all module deps test unit test-unit test-meilisim test-golden test-t \
        run stop bench fuzz clean release-notes test-asan test-release-notes deb \
        test-valgrind soak

all: module

module: $(MODULE)

$(SRC_LIST): FORCE
	@mkdir -p $(BUILD)
	@echo '$(SRC_NOW)' | cmp -s - $@ || echo '$(SRC_NOW)' > $@

# Every build step needs the Debian packages: install them once (a stamp).
DEPS_STAMP  := $(BUILD)/.deps-installed

$(DEPS_STAMP): bin/install-deps
	bin/install-deps
	@mkdir -p $(BUILD) && touch $@

$(NGX_BUILD)/objs/Makefile: config $(SRC_LIST) | $(DEPS_STAMP)
	@rm -rf $(NGX_BUILD) && mkdir -p $(NGX_BUILD)
	cp -a $(NGX_SRC)/. $(NGX_BUILD)/
	cd $(NGX_BUILD) && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { cat configure.log; exit 1; }

NGX_CC_OPT  ?= -g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
NGX_LD_OPT  ?= -Wl,-z,relro -Wl,-z,now -fPIC

$(MODULE): $(NGX_BUILD)/objs/Makefile $(NGX_C) $(CORE_C) $(HEADERS)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	@mkdir -p objs
	cp $(NGX_BUILD)/objs/ngx_http_miroir_module.so $@

FORCE:

# ---------------------------------------------------------------- core
$(BUILD)/core/%.o: src/%.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -Isrc -c $< -o $@

$(BUILD)/libmiroir_core.a: $(CORE_O)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/%.c $(BUILD)/libmiroir_core.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -Isrc $< -o $@ $(BUILD)/libmiroir_core.a $(CHECK_LIBS)

unit test-unit: $(TESTS_BIN)
	@fail=0; for t in $(TESTS_BIN); do $$t || fail=1; done; exit $$fail

# ---------------------------------------------------------------- suites
test-meilisim:
	$(PYTHON) t/meilisim/tests/run.py

test-golden:
	t/golden/run-against-emulator

test-t: $(MODULE)
	TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE) \
	    prove -I t/lib $(PROVE_FLAGS) t/

# The module and the core built with AddressSanitizer and UBSan; the whole
# Check and t/ suites run against them.  Debian's nginx is not instrumented,
# so it runs with the sanitizer runtime preloaded (a wrapper script), and
# every report goes to build/asan/san.* (any such file fails the target).
ASAN_DIR    := build/asan
ASAN_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined

test-asan:
	$(MAKE) --no-print-directory BUILD=$(ASAN_DIR) \
	    MODULE=$(ASAN_DIR)/ngx_miroir_module.so \
	    NGX_CC_OPT="$(ASAN_CFLAGS) -fPIC" \
	    NGX_LD_OPT="-fsanitize=address,undefined -fPIC" \
	    SAN_FLAGS="$(ASAN_CFLAGS)" module unit
	rm -f $(ASAN_DIR)/san.*
	printf '#!/bin/sh\nLD_PRELOAD="%s %s" exec $(NGINX) "$$@"\n' \
	    "$$($(CC) -print-file-name=libasan.so)" \
	    "$$($(CC) -print-file-name=libubsan.so)" > $(ASAN_DIR)/nginx-asan
	chmod +x $(ASAN_DIR)/nginx-asan
	MIROIR_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/$(ASAN_DIR)/san \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/$(ASAN_DIR)/san \
	TEST_NGINX_BINARY=$(CURDIR)/$(ASAN_DIR)/nginx-asan \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(ASAN_DIR)/ngx_miroir_module.so \
	TEST_NGINX_SERVROOT=$(CURDIR)/$(ASAN_DIR)/servroot \
	    prove -I t/lib $(PROVE_FLAGS) t/
	@if ls $(ASAN_DIR)/san.* >/dev/null 2>&1; then \
	    cat $(ASAN_DIR)/san.*; echo "test-asan: sanitizer reports above"; exit 1; \
	fi
	@echo "test-asan: no sanitizer report"

test: module
	@bin/run-tests

test-release-notes:
	tests/release-notes.sh

# The t/ suite with nginx under valgrind's memcheck (slow: minutes).  Any
# invalid access, use of uninitialised memory or definite leak fails it, as
# does a failed test.  t/valgrind.supp hides nginx's own exit-time
# allocations only; t/valgrind-nodlclose.c keeps the module mapped at exit,
# so memory its static caches point to is not counted as lost.
# t/051-helper.t is left out: it finds the helper by its process title,
# which valgrind hides (/proc/PID/cmdline shows valgrind's).
VG_DIR   := build/valgrind
VG_SKIP  := t/051-helper.t
VG_TESTS ?= $(filter-out $(VG_SKIP),$(sort $(wildcard t/*.t)))
VG_BAD   := Invalid (read|write|free)|uninitialised|Mismatched free|overlap|definitely lost in loss record

test-valgrind: $(MODULE)
	rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)
	$(CC) -shared -fPIC -O2 -o $(VG_DIR)/nodlclose.so t/valgrind-nodlclose.c
	@rc=0; \
	TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_VALGRIND_DIR=$(CURDIR)/$(VG_DIR) \
	TEST_NGINX_VALGRIND_PRELOAD=$(CURDIR)/$(VG_DIR)/nodlclose.so \
	TEST_NGINX_TIMEOUT=20 TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE) \
	TEST_NGINX_SERVROOT=$(CURDIR)/$(VG_DIR)/servroot \
	    prove -I t/lib $(PROVE_FLAGS) $(VG_TESTS) || rc=1; \
	bad=$$(grep -lE '$(VG_BAD)' $(VG_DIR)/valgrind.*.log 2>/dev/null); \
	if [ -n "$$bad" ]; then cat $$bad; echo "test-valgrind: reports above"; exit 1; fi; \
	echo "test-valgrind: $$(ls $(VG_DIR)/valgrind.*.log | wc -l) nginx processes, no invalid access, no definite leak"; \
	exit $$rc

# ---------------------------------------------------------------- demo
run: module
	@bin/miroir-run start

stop:
	@bin/miroir-run stop

# ---------------------------------------------------------------- bench
$(BUILD)/bench/%: bench/%.c $(BUILD)/libmiroir_core.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -Isrc $< -o $@ $(BUILD)/libmiroir_core.a -lcjson -lxxhash -lcrypto -lm

bench: $(BENCH_BIN) module
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done
	bench/run-http
	$(PYTHON) bench/bench-emulator.py
	MODULE=$(CURDIR)/$(MODULE) NGINX_BINARY=$(NGINX) bench/bench-migrate 20000

# wrk for SOAK_SECONDS against 3 emulated nodes (RF 2), a node killed and
# restarted during it; fails on any failed search, RSS growth above
# SOAK_RSS_BOUND_KB or a leaked descriptor (docs/reliability.md)
SOAK_SECONDS ?= 120
soak: module
	SOAK_SECONDS=$(SOAK_SECONDS) MODULE=$(CURDIR)/$(MODULE) NGINX_BINARY=$(NGINX) \
	    $(PYTHON) bench/soak

# ---------------------------------------------------------------- fuzz
FUZZ_FLAGS := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L \
              -fsanitize=fuzzer,address,undefined -Isrc

$(BUILD)/fuzz/%: fuzz/%.c $(CORE_C) $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $< $(CORE_C) -o $@ -lcjson -lxxhash -lcrypto -lm

fuzz: $(FUZZ_BIN)
	@set -o pipefail; \
	for f in $(FUZZ_BIN); do n=$$(basename $$f); n=$${n#fuzz_}; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "== $$f ($(FUZZ_SECONDS)s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILD)/fuzz/corpus-$$n fuzz/corpus/$$n 2>&1 | tail -n 12 || exit 1; \
	done

# ---------------------------------------------------------------- package
deb: module
	bin/make-deb $(MODULE)

# ---------------------------------------------------------------- misc
deps:
	bin/install-deps
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)

release-notes:
	@test -n "$(VERSION)" || { echo "usage: make release-notes VERSION=x.y.z" >&2; exit 2; }
	@awk -v v="$(VERSION)" -f bin/release-notes.awk CHANGELOG.md

clean:
	rm -rf $(BUILD) objs t/servroot
