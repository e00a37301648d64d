#!/usr/bin/python3
"""PyTorch (CPU) peer of ShampooMkl's Shampoo optimizer step, for the peer table of the Bench task.

Run by perf/ShampooMkl.Benchmarks (`--peers`) with Debian's /usr/bin/python3 and its python3-torch package:
the benchmark writes a model's parameters and gradients (raw little-endian float32 plus manifest.json) into a
folder, this script takes the same steps on them and prints one JSON object on stdout. It is a measurement,
not a test: when torch is missing it says so (exit code 3) and the caller skips it.

The mathematics is ShampooMkl.Optim.Shampoo with the benchmark's options (perf/ShampooMkl.Benchmarks/Peers):
per block of at most max_dim per side, L += G Gᵀ, R += Gᵀ G in float32; on a refresh step the roots
(L + eps I)^(-1/p) from torch.linalg.eigh in float64 with the eigenvalues clamped at 0; D = Lroot G Rroot;
Adagrad grafting per block (a += g² in float64, D scaled to the Frobenius norm of g / (sqrt(a) + eps_g));
vectors use g / (sqrt(v) + eps_d) with the same grafting; momentum m = b1 m + (1 - b1) D;
W -= lr m / (1 - b1^t). It is written as a PyTorch user would: in-place addmm_ for the statistics,
torch.linalg.eigh for the roots (no syrk in torch, so the statistics cost a full matmul each).

Thread counts: unless --threads is given, the steady and the refresh series each first try torch intra-op threads and
OpenBLAS threads of 1 and all cores and keep the fastest pair (reported), so the peer is measured at its best setting.

Usage: torch_step.py --probe
       torch_step.py --data DIR [--steady-steps N] [--refresh-steps N] [--warmup N] [--threads N] [--check-out DIR]
"""

import argparse
import json
import os
import statistics
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", action="store_true", help="report the torch build and exit")
    parser.add_argument("--data", help="folder with manifest.json and the parameter files")
    parser.add_argument("--steady-steps", type=int, default=10, help="timed steps without a refresh")
    parser.add_argument("--refresh-steps", type=int, default=3, help="timed steps that refresh every root")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before each timed series")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads and OpenBLAS threads; 0 (default) tries 1 and all cores for each and keeps the fastest")
    parser.add_argument("--check-out", help="take two steps (refresh, then steady) from the data and write the weights here")
    return parser.parse_args()


def describe(torch):
    import re
    match = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    blas = match.group(1) if match else "unknown"
    if blas == "generic":
        # Debian builds against the libblas.so.3 alternative; name the library it resolves to.
        for candidate in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
            if os.path.exists(candidate):
                blas = "libblas.so.3 -> " + os.path.realpath(candidate)
                break
    return {
        "available": True,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "blas_info": blas,
    }


def partition(rows, cols, max_dim):
    """Blocks of at most max_dim per side, row-major order: the same cut as ShampooMkl's MatrixBlocking."""
    return [(r, c, min(max_dim, rows - r), min(max_dim, cols - c))
            for r in range(0, rows, max_dim) for c in range(0, cols, max_dim)]


class TorchShampoo:
    def __init__(self, torch, manifest, data_dir, check=False):
        self.torch = torch
        options = manifest["options"]
        self.lr = options["learningRate"]
        self.beta1 = options["beta1"]
        # The check runs with a larger epsilon: with fp32 statistics and eps = 1e-12 the roots of a rank-deficient
        # factor are dominated by rounding, and two correct implementations differ by tens of percent.
        self.eps = options["checkEpsilon"] if check else options["epsilon"]
        self.root = options["root"]
        self.graft_eps = options["graftingEpsilon"]
        self.diag_eps = options["diagonalEpsilon"]
        self.step_count = 0
        self.params = []
        for entry in manifest["parameters"]:
            shape = entry["shape"]
            value = self._load(data_dir, entry["value"], shape)
            grad = self._load(data_dir, entry["gradient"], shape)
            rows = shape[0] if len(shape) >= 2 else 1
            cols = value.numel() // rows
            state = {"w": value, "g": grad, "m": torch.zeros_like(value), "a": torch.zeros(value.numel(), dtype=torch.float64)}
            if len(shape) >= 2 and rows > 1 and cols > 1:
                state["g2"] = grad.view(rows, cols)
                state["blocks"] = [{
                    "slice": (slice(r, r + rs), slice(c, c + cs)),
                    "L": torch.zeros(rs, rs), "R": torch.zeros(cs, cs),
                    "Lroot": torch.eye(rs), "Rroot": torch.eye(cs),
                } for r, c, rs, cs in partition(rows, cols, options["maxPreconditionerDim"])]
                state["d"] = torch.empty(rows, cols)
            else:
                state["v"] = torch.zeros(value.numel(), dtype=torch.float64)
            self.params.append(state)

    def _load(self, data_dir, name, shape):
        import numpy
        array = numpy.fromfile(os.path.join(data_dir, name), dtype="<f4").reshape(shape)
        return self.torch.from_numpy(array.copy())

    def _inverse_root(self, factor):
        torch = self.torch
        values, vectors = torch.linalg.eigh(factor.double())
        scale = (values.clamp(min=0) + self.eps).pow(-1.0 / self.root)
        return ((vectors * scale) @ vectors.T).float()

    def step(self, refresh):
        torch = self.torch
        self.step_count += 1
        with torch.no_grad():
            for p in self.params:
                g64 = p["g"].reshape(-1).double()
                p["a"].addcmul_(g64, g64)
                if "blocks" in p:
                    for b in p["blocks"]:
                        gb = p["g2"][b["slice"]]
                        b["L"].addmm_(gb, gb.T)
                        b["R"].addmm_(gb.T, gb)
                else:
                    p["v"].addcmul_(g64, g64)
            if refresh:
                for p in self.params:
                    for b in p.get("blocks", []):
                        b["Lroot"] = self._inverse_root(b["L"])
                        b["Rroot"] = self._inverse_root(b["R"])
            correction = 1.0 - self.beta1 ** self.step_count
            for p in self.params:
                g = p["g"]
                if "blocks" in p:
                    a2 = p["a"].view(p["g2"].shape)
                    d = p["d"]
                    for b in p["blocks"]:
                        gb = p["g2"][b["slice"]]
                        db = b["Lroot"] @ gb @ b["Rroot"]
                        graft = gb.double() / (a2[b["slice"]].sqrt() + self.graft_eps)
                        norm = db.double().norm()
                        d[b["slice"]] = db * (graft.norm() / norm if norm > 0 else 0.0)
                    d = d.view_as(g)
                else:
                    g64 = g.double()
                    d64 = g64 / (p["v"].sqrt() + self.diag_eps)
                    graft = g64 / (p["a"].sqrt() + self.graft_eps)
                    norm = d64.norm()
                    d = (d64 * (graft.norm() / norm if norm > 0 else 0.0)).float()
                p["m"].mul_(self.beta1).add_(d, alpha=1.0 - self.beta1)
                p["w"].add_(p["m"], alpha=-self.lr / correction)


def openblas_threads_setter():
    """Debian's torch calls OpenBLAS (the libblas.so.3 alternative), whose pthread pool is separate from torch's OpenMP
    one; both default to all cores, which oversubscribes a small machine. Returns a setter, or None without OpenBLAS."""
    import ctypes
    try:
        library = ctypes.CDLL("libopenblas.so.0")
        setter = library.openblas_set_num_threads
    except (OSError, AttributeError):
        return None
    setter.argtypes = [ctypes.c_int]
    return setter


def configure(torch, setter, torch_threads, blas_threads):
    torch.set_num_threads(torch_threads)
    if setter is not None:
        setter(blas_threads)


def calibrate(torch, setter, optimizer, refresh, repeats):
    """The fastest (torch threads, BLAS threads) pair for this step, so the peer is timed at its best setting."""
    cores = os.cpu_count() or 1
    candidates = sorted({(t, b) for t in (1, cores) for b in ((1, cores) if setter else (cores,))})
    best = None
    for torch_threads, blas_threads in candidates:
        configure(torch, setter, torch_threads, blas_threads)
        optimizer.step(refresh)
        median = statistics.median(timed(lambda: optimizer.step(refresh), repeats))
        if best is None or median < best[0]:
            best = (median, torch_threads, blas_threads)
    return best[1], best[2]


def timed(run, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def main():
    args = parse_args()
    try:
        import numpy  # noqa: F401  (the data files are read through numpy)
        import torch
    except ImportError as error:
        print(json.dumps({"available": False, "reason": f"{error} (install Debian's python3-torch: apt-get install python3-torch)"}))
        return 3

    setter = openblas_threads_setter()
    if args.threads > 0:
        configure(torch, setter, args.threads, args.threads)
    info = describe(torch)
    if args.probe:
        print(json.dumps(info))
        return 0
    if not args.data:
        print("torch_step.py: --data is required (or --probe)", file=sys.stderr)
        return 2

    with open(os.path.join(args.data, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)

    if args.check_out:
        optimizer = TorchShampoo(torch, manifest, args.data, check=True)
        optimizer.step(refresh=True)
        optimizer.step(refresh=False)
        os.makedirs(args.check_out, exist_ok=True)
        for entry, p in zip(manifest["parameters"], optimizer.params):
            p["w"].numpy().astype("<f4").tofile(os.path.join(args.check_out, entry["value"]))

    # Timing starts from fresh state, refreshed once (as the optimizer's first step), like the C# side.
    optimizer = TorchShampoo(torch, manifest, args.data)
    optimizer.step(refresh=True)
    chosen = {}
    if args.threads <= 0:
        chosen["steady"] = calibrate(torch, setter, optimizer, False, 3)
        configure(torch, setter, *chosen["steady"])
    for _ in range(args.warmup):
        optimizer.step(refresh=False)
    steady = timed(lambda: optimizer.step(refresh=False), args.steady_steps)
    refresh = []
    if args.refresh_steps > 0:
        if args.threads <= 0:
            chosen["refresh"] = calibrate(torch, setter, optimizer, True, 1)
            configure(torch, setter, *chosen["refresh"])
        refresh = timed(lambda: optimizer.step(refresh=True), args.refresh_steps)

    info.update({
        "threads": {k: {"torch": v[0], "openblas": v[1]} for k, v in chosen.items()} or args.threads,
        "steady_ms": steady,
        "refresh_ms": refresh,
        "steady_median_ms": statistics.median(steady) if steady else None,
        "refresh_median_ms": statistics.median(refresh) if refresh else None,
    })
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
