#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation and runs
# each for FUZZ_SECONDS (default 60), then prints one line per target:
# "fuzz: TARGET: N inputs in S s, 0 crashes, 0 timeouts".
#
# Stable Rust is enough: the SanitizerCoverage flags below are stable rustc
# flags (cargo-fuzz passes the same ones); only AddressSanitizer would need
# nightly, and safe Rust does not need it to find panics and hangs. With
# cargo-fuzz and a nightly toolchain installed, `cargo +nightly fuzz run
# TARGET` works on this crate too.
#
# Exits non-zero when a target panics, hangs (an input running over 10 s)
# or runs out of memory; libFuzzer writes the input under artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-email otp_code phone recovery_code sandbox_params gateway_answers plugin_manifest}"
host="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
# --target keeps the flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$host" --bins
status=0
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  set +e
  "$CARGO_TARGET_DIR/$host/release/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    "corpus/$t" "seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)"
  crashes="$(find "artifacts/$t" -name 'crash-*' | wc -l)"
  timeouts="$(find "artifacts/$t" -name 'timeout-*' | wc -l)"
  echo "fuzz: $t: ${runs:-?} inputs in ${took:-?} s, $crashes crashes, $timeouts timeouts (exit $rc)"
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -n 40 "$log"
  fi
done
exit "$status"
