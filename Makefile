# OrcTool. Quick start: `make demo`, `make test` (each installs what it needs first).
SWIFT ?= swift

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build release install demo test corpus corpus-all dump dumps unwind-scenarios unwind-check compare compare-check verify-variants-corpus bench bench-kbuild \
	figures format lint clean fuzz fuzz-smoke tsan kbuild kernel-objects compare-kbuild compare-uaccess \
	kbuild-orctool compare-kbuild-builds kbuild-boot-check

all: build

deps:
	@bash scripts/deps.sh

build: deps
	$(SWIFT) build

# The binary users get: release, static Swift runtime (scripts/build-release.sh).
release: deps
	@bash scripts/build-release.sh

install: release
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 "$$(bash scripts/build-release.sh 2>/dev/null)" "$(DESTDIR)$(PREFIX)/bin/orctool"

demo: build
	@bash scripts/demo.sh

# The tests use the -dbg vmlinuxes too (ORC dump, BTF, paravirt sites, the 6.12 dumps): about 600 MB.
corpus: deps
	@bash scripts/corpus.sh --dbg --dbg612

corpus-all: deps
	@bash scripts/corpus.sh --dbg --dbg612 --arm64

# The tests compare against the real objtool on real Debian modules:
# fetch them first (cached outside the repository).
# A QEMU dump of the 6.1 kernel for the unwinder's tests (made once, cached).
DUMP ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/orctool/dump
dump: corpus
	@test -f "$(DUMP)/vmcore" -a -f "$(DUMP)/drgn.txt" || bash scripts/qemu-dump.sh "$(DUMP)"

# QEMU dumps of both kernels (6.1, 6.12) in each scenario of scripts/qemu-dump.sh
# (busy, oops, sysrq-c, nmi; the test module Examples/dumpmod loaded), ELF and
# kdump-compressed, with drgn's traces: $(DUMPS)/KERNEL-SCENARIO, the ones that
# exist kept (FORCE=1 redoes them). About 20 s each; 4.5 GB in all, the 6.12
# -dbg package 1.8 GB more.
DUMPS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/orctool/dumps
dumps:
	@bash scripts/dumps.sh "$(DUMPS)"

# Every scenario dump against drgn, sysrq-t and the panic printout, ELF and kdump, timed against drgn.
unwind-scenarios: dumps
	@bash scripts/unwind-scenarios.sh "$(DUMPS)"

# The Debian 6.1 cloud vmlinux built from Debian's source with a recording
# wrapper in objtool's place: every per-object objtool input, its command line
# and warnings, and vmlinux.o, cached outside the repository (scripts/kbuild.sh;
# 33 minutes measured on 2 busy cores, then re-runs only print the report).
# Then bzImage and qemu_fw_cfg.ko (the module a QEMU boot needs), in the same tree.
kbuild:
	@bash scripts/kbuild.sh

# The same tree and config built again with OrcTool as objtool= (the release
# binary, installed in the cache): ~/.cache/orctool/kbuild/6.1-orctool, vmlinux,
# bzImage and qemu_fw_cfg.ko (scripts/kbuild.sh --orctool).
kbuild-orctool: deps
	@bash scripts/kbuild.sh --orctool

# The objects both builds left in their trees, section by section (ORC, the call-site
# sections, code, symbols), then vmlinux.o and vmlinux (scripts/compare-kbuild.sh, BUILT=).
KBUILD_ROOT ?= $(or $(ORCTOOL_KBUILD),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/orctool/kbuild)
compare-kbuild-builds: kbuild kbuild-orctool
	@BUILT="$(KBUILD_ROOT)/6.1-orctool" bash scripts/compare-kbuild.sh

# Both kernels booted under QEMU: their sysrq-t traces compared task by task, the
# consoles grepped for unwinder warnings, orctool unwind --btf on each dump
# against the kernel's own sysrq-t (scripts/kbuild-boot-check.sh).
kbuild-boot-check: kbuild kbuild-orctool
	@bash scripts/kbuild-boot-check.sh

# Real objtool inputs without a kernel build, for make test: linux-source-6.1 with
# the same config, make prepare, then the 42 objects of scripts/kernel-objects.list
# compiled alone by kbuild with the recording wrapper (each input, objtool's line,
# warnings and output), cached outside the repository (scripts/kernel-objects.sh;
# about 2 minutes on 2 cores from nothing, then a second).
kernel-objects:
	@bash scripts/kernel-objects.sh

# The recorded objects (make kbuild) with one SMAP STAC or CLAC made a NOP at a time,
# orctool against objtool 6.1 with --orc --uaccess: warnings and ORC.
compare-uaccess: deps
	@bash scripts/compare-uaccess.sh

# The fuzz smoke (each libFuzzer target briefly, deterministic) runs before the Swift tests.
test: build lint corpus kernel-objects dump dumps fuzz-smoke
	ORCTOOL_DUMP="$(DUMP)" ORCTOOL_DUMPS="$(DUMPS)" ORCTOOL_REQUIRE_CORPUS=1 ORCTOOL_BIN="$$($(SWIFT) build --show-bin-path)/orctool" $(SWIFT) test

# libFuzzer over every reader and pass (Fuzz/, scripts/fuzz.sh). The campaign:
# RUNS executions per target, SANITIZE=address (or undefined: see the script),
# TARGETS, KEEP_GOING=1. The smoke: a fixed seed and budget per target, for CI.
fuzz: corpus
	@bash scripts/fuzz.sh

fuzz-smoke: deps
	@bash scripts/fuzz.sh --smoke

# ThreadSanitizer over the parallel paths (--jobs=4) on the 50 largest cached modules.
tsan: corpus
	@bash scripts/tsan.sh

compare: deps
	@bash scripts/compare-dump.sh --dbg

bench: deps
	@bash scripts/bench-check.sh
	@bash scripts/bench-dump.sh

bench-kbuild: deps
	@bash scripts/bench-kbuild.sh

verify-variants-corpus: deps
	@bash scripts/verify-variants-corpus.sh

compare-check: deps
	@bash scripts/compare-check.sh
	@GENERATION=6.12 bash scripts/compare-check.sh

# Object by object on the build `make kbuild` recorded (ORCTOOL_SKIP_FLAGS="--uaccess
# --hacks=noinstr" drops what orctool does not do yet from its own line).
compare-kbuild: deps
	@bash scripts/compare-kbuild.sh

unwind-check: deps
	@bash scripts/unwind-check.sh

figures: deps
	@bash scripts/livepatch-figures.sh
	@bash scripts/special-figures.sh

# Both read .swift-format (the toolchain's swift-format): 2-space indent, lines
# up to 120, and off the rules that fight the code's deliberate style:
# DoNotUseSemicolons (byte writers put a record's fields on one line),
# OnlyOneTrailingClosureArgument (a case list's `add(name, { kind }) { mutate }`),
# AlwaysUseLowerCamelCase (kernel and ELF names: x86_64, v6_1).
format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift Fuzz/Sources Fuzz/Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift Fuzz/Sources Fuzz/Package.swift

clean:
	rm -rf .build
