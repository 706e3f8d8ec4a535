#!/usr/bin/env bash
# scripts/ci-bench.sh: run the benchmarks of every package that has some
# and print, per package, a Markdown table of ns/op, B/op and allocs/op with
# each result's ratio to the baseline measured in the same run: the
# sibling sub-benchmark whose last name element matches BASELINE_RE
# (an awk regular expression, case-insensitive; default "^baseline").
#
# Usage: scripts/ci-bench.sh [packages...]   (default: every package with a
# func BenchmarkXxx). BENCHTIME (default 1s) and COUNT (default 1) are
# passed to go test. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

benchtime=${BENCHTIME:-1s}
baseline_re=${BASELINE_RE:-^baseline}
count=${COUNT:-1}

if [ "$#" -gt 0 ]; then
	pkgs=("$@")
else
	mapfile -t pkgs < <(grep -rlE --include='*_test.go' '^func Benchmark[A-Za-z0-9_]*\(' . |
		grep -v -e '/testdata/' -e '/vendor/' | xargs -n1 dirname | sort -u)
fi

echo "# $(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')"
echo "# go test -run='^\$' -bench=. -benchmem -benchtime=$benchtime -count=$count <pkg>"
for p in "${pkgs[@]}"; do
	echo
	echo "## $p"
	echo
	go test -run='^$' -bench=. -benchmem -benchtime="$benchtime" -count="$count" "$p" |
		awk -v bre="$baseline_re" '
		/^Benchmark/ && / ns\/op/ {
			name = $1; sub(/-[0-9]+$/, "", name)
			ns = ""; bop = "-"; aop = "-"
			for (i = 2; i <= NF; i++) {
				if ($i == "ns/op") ns = $(i-1)
				if ($i == "B/op") bop = $(i-1)
				if ($i == "allocs/op") aop = $(i-1)
			}
			if (!(name in seen)) { order[++n] = name; seen[name] = 1 }
			sum[name] += ns; cnt[name]++; b[name] = bop; a[name] = aop
			parent = name; sub(/\/[^\/]*$/, "", parent)
			leaf = name; sub(/^.*\//, "", leaf)
			if (parent != name && tolower(leaf) ~ tolower(bre) && !(parent in base)) base[parent] = name
		}
		END {
			if (n == 0) { print "(no benchmarks)"; exit }
			print "| benchmark | ns/op | B/op | allocs/op | × baseline |"
			print "|---|---:|---:|---:|---:|"
			for (i = 1; i <= n; i++) {
				k = order[i]; mean = sum[k] / cnt[k]
				parent = k; sub(/\/[^\/]*$/, "", parent)
				r = "-"
				if ((parent in base) && base[parent] != k) {
					bk = base[parent]; bm = sum[bk] / cnt[bk]
					if (bm > 0) r = sprintf("%.2f", mean / bm)
				} else if ((parent in base) && base[parent] == k) r = "1 (baseline)"
				printf "| %s | %.1f | %s | %s | %s |\n", k, mean, b[k], a[k], r
			}
		}'
done
