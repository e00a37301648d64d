#!/usr/bin/env bash
# Trains the TorchSharp models side by side with ShampooMkl's Shampoo² and AdamW (through the TorchSharp adapter) and
# TorchSharp's own Adam and AdamW, same epochs, seed and data order, and prints the README's table (markdown) with the
# machine (lscpu model name) and the load average before and after.
#
# Usage: perf/torchsharp-table.sh [--epochs N] [--models "cnn mlp vit"] [--optimizers "shampoo2 adamw torch-adam torch-adamw"]
#                                 [--out DIR] [--no-build]
#   --epochs      epochs per run (default 3)
#   --models      TorchSharp models to train (default "mlp cnn vit")
#   --optimizers  optimizers per model, run back to back in this order (default "shampoo2 adamw torch-adam torch-adamw")
#   --out         folder of the runs' JSON reports and logs (default artifacts/torchsharp-table)
#   --no-build    use the existing Release build of the CLI
# Every run is `shampoo-mkl train --framework torchsharp ...` (which relaunches itself under native/torch-runtime.sh's
# runtime where the system libraries are too old). Columns: final test accuracy, training wall time (forward,
# backward and optimizer, without evaluation), and the mean time of one optimizer.step().
# Needs python3 for the summary. Exit code: 0, or the first failing run's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

epochs=3 models="mlp cnn vit" optimizers="shampoo2 adamw torch-adam torch-adamw" out=artifacts/torchsharp-table build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --epochs) epochs="$2"; shift 2 ;;
        --models) models="$2"; shift 2 ;;
        --optimizers) optimizers="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "torchsharp-table: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
    esac
done

[[ $build -eq 1 ]] && dotnet build src/ShampooMkl.Cli -c Release -v quiet -nologo >/dev/null
cli=src/ShampooMkl.Cli/bin/Release/net10.0/shampoo-mkl.dll
mkdir -p "$out"
cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
cores="$(nproc)"
before="$(uptime | sed 's/.*load average: //')"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
for model in $models; do
    for optimizer in $optimizers; do
        echo "torchsharp-table: $model / $optimizer" >&2
        dotnet "$cli" train --framework torchsharp --model "$model" --optimizer "$optimizer" --epochs "$epochs" \
            --json "$out/$model-$optimizer.json" >"$out/$model-$optimizer.log" 2>&1 || {
            code=$?
            echo "torchsharp-table: $model / $optimizer failed (exit $code); see $out/$model-$optimizer.log" >&2
            exit $code
        }
    done
done
after="$(uptime | sed 's/.*load average: //')"

echo "Measured $started, $cpu ($cores cores), load average before: $before, after: $after; $epochs epochs, batch 128, seed 0."
echo
python3 - "$out" "$models" "$optimizers" <<'PY'
import json, sys, os
out, models, optimizers = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
print("| model | optimizer | test accuracy | wall time (s) | optimizer time per step (ms) |")
print("|---|---|---:|---:|---:|")
for m in models:
    for o in optimizers:
        r = json.load(open(os.path.join(out, f"{m}-{o}.json")))
        epochs = r["epochs"]
        steps = sum(e["steps"] for e in epochs)
        wall = sum(e["wallSeconds"] for e in epochs)
        opt = sum(e["optimizerSeconds"] for e in epochs)
        print(f"| {m} | {o} | {epochs[-1]['testAccuracy'] * 100:.2f}% | {wall:.1f} | {opt / steps * 1000:.2f} |")
PY
