#!/usr/bin/env bash
# Builds the browser package with wasm-pack from the profiles in wasm-pack.toml:
#   bash scripts/build-wasm.sh            # every profile
#   bash scripts/build-wasm.sh web        # only the named ones
# Prints each core wasm's raw and gzip size and fails when gzip exceeds the budget.
set -euo pipefail
cd "$(dirname "$0")/.."

config() { python3 -c 'import json, sys, tomllib; print(json.dumps(tomllib.load(open("wasm-pack.toml", "rb"))))'; }
query() { config | python3 -c "import json, sys; c = json.load(sys.stdin); $1"; }

profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || mapfile -t profiles < <(query 'print("\n".join(c["profile"]))')
features=$(query 'print(",".join(c["build"].get("features", [])))')
mapfile -t opt_args < <(query 'print("\n".join(c["build"]["wasm_opt"]))' | sed '/^$/d')
budget=$(query 'print(c["build"]["gzip_budget"])')

for name in "${profiles[@]}"; do
    target=$(query "print(c['profile']['$name']['target'])")
    out=pkg/$name
    args=(build --profile wasm-release --mode no-install --no-opt --no-pack --target "$target" --out-dir "$out")
    wasm-pack "${args[@]}" -- ${features:+--features "$features"}
    wasm=$out/fusionrec_bg.wasm
    rm -f "$out/.gitignore" # wasm-pack's "*" would hide the files from `npm pack`
    if [ ${#opt_args[@]} -gt 0 ]; then
        wasm-opt "${opt_args[@]}" "$wasm" -o "$wasm.opt"
        mv "$wasm.opt" "$wasm"
    fi
    raw=$(stat -c %s "$wasm")
    gz=$(gzip -9 -c "$wasm" | wc -c)
    printf 'wasm %s (%s): raw %s bytes, gzip %s bytes (budget %s)\n' "$name" "$target" "$raw" "$gz" "$budget"
    if [ "$gz" -gt "$budget" ]; then
        echo "error: $wasm is over the gzip budget" >&2
        exit 1
    fi
done
