"""ref_one.py: one benchmark configuration on the reference's side: the Python
package connectome_interpreter (MultilayeredNetwork, activation_maximisation)
on torch, CPU. bench/bench.lua runs it in a fresh process per measurement, in
turn with cinterp's bench/bench_one.lua, under the interpreter of a reference
runtime (build/ref-venv or build/ref-venv-debian, `make bench-ref`). Prints one
line "RESULT key=value ..." (or "ERROR message" on stderr and exit 1).

    python bench/ref_one.py --net NET [--B 8] [--L 10] [--what fwd,am]
                            [--cap SECONDS] [--am-iters K] [--threads T]
NET: ref10k, ref50k  the exact networks of ../shared/bench/nets (CSV, read here)
     dump:DIR        a raw dump written by bench/nets.lua (the generated network)
The same workload as cinterp's (bench/workload.lua): x and the targets are
computed from a hash, not drawn. Measures as ../shared/bench/REFERENCE.md:
  fwd_s      model(x) under torch.no_grad(): one warm-up, median of up to 3
             (the warm-up alone when it took over half the forward's budget)
  am_iter_s  activation_maximisation(model, targets, input_tensor=x,
             early_stopping=False): the median time between successive
             iterations (a forward pre-hook stamps each iteration's forward);
             the run stops after --am-iters iterations or once its budget is
             spent (after at least one interval)
  peak_mb    VmHWM of this process at the end (imports, network, forward, AM)
  wsum, wchk the checksums of bench/nets.lua, for the driver's same-network check
--cap is shared as cinterp's: forward 1 part, iterations 2 parts.
"""
import argparse
import gzip
import os
import sys
import time


def fail(msg):
    sys.stderr.write("ERROR ref_one.py: %s\n" % msg)
    sys.exit(1)


def status_mb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def fmix32(np, h):
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def workload_input(np, B, S, L):
    """bench/workload.lua's input, shape (B, S, L), float32."""
    i = np.arange(B * S * L, dtype=np.uint64)
    u = fmix32(np, (2 * i) % (1 << 32)).astype(np.float64) / 4294967296.0
    v = fmix32(np, (2 * i + 1) % (1 << 32)).astype(np.float64) / 4294967296.0
    return np.where(v < 0.3, u, 0.0).astype(np.float32).reshape(B, S, L)


def workload_targets(n, sensory):
    s = set(int(v) for v in sensory)
    out = []
    for k in range(10):
        i = ((2 * k + 1) * n) // 20
        guard = 0
        while i in s and guard < n:
            i = (i + 1) % n
            guard += 1
        out.append(i)
    return out


def load(np, pd, name, shared):
    """post, pre (int32, 0-based), weight (float32), sensory (int64), n"""
    if name in ("ref10k", "ref50k"):
        stem = "n10000" if name == "ref10k" else "n50000"
        d = os.path.join(shared, "bench", "nets")
        e = pd.read_csv(os.path.join(d, "net_%s_edges.csv.gz" % stem))
        for c in ("post", "pre", "weight"):
            if c not in e.columns:
                fail("%s: column %s missing" % (name, c))
        post = e["post"].to_numpy(np.int32)
        pre = e["pre"].to_numpy(np.int32)
        w = e["weight"].to_numpy(np.float64).astype(np.float32)
        del e
        with gzip.open(os.path.join(d, "net_%s_sensory.txt.gz" % stem), "rt") as f:
            sensory = np.array([int(t) for t in f.read().split()], dtype=np.int64)
        n = int(stem[1:])
    elif name.startswith("dump:"):
        d = name[5:]
        meta = {}
        with open(os.path.join(d, "meta.txt")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
        n, nnz, S = int(meta["n"]), int(meta["nnz"]), int(meta["S"])
        post = np.fromfile(os.path.join(d, "post.i32"), dtype="<i4")
        pre = np.fromfile(os.path.join(d, "pre.i32"), dtype="<i4")
        w = np.fromfile(os.path.join(d, "weight.f32"), dtype="<f4")
        sensory = np.fromfile(os.path.join(d, "sensory.i32"), dtype="<i4").astype(np.int64)
        if not (len(post) == len(pre) == len(w) == nnz and len(sensory) == S):
            fail("%s: the arrays do not match meta.txt" % d)
    else:
        fail("unknown --net %s (ref10k, ref50k, dump:DIR)" % name)
    if len(post) and (post.min() < 0 or pre.min() < 0 or post.max() >= n or pre.max() >= n):
        fail("%s: an index is outside 0..%d" % (name, n - 1))
    return post, pre, w, sensory, n


def median(xs):
    t = sorted(xs)
    m = len(t)
    if m == 0:
        return float("nan")
    return t[m // 2] if m % 2 else 0.5 * (t[m // 2 - 1] + t[m // 2])


class _Stop(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description="one reference configuration (see the header)")
    ap.add_argument("--net", required=True)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--L", type=int, default=10)
    ap.add_argument("--what", default="fwd,am")
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--am-iters", type=int, default=6)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--shared", default=os.environ.get("CI_SHARED") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    a = ap.parse_args()
    what = set(a.what.split(","))
    if not what <= {"fwd", "am"} or not what:
        fail("--what takes fwd and/or am, not %s" % a.what)
    if a.B < 1 or a.L < 1 or a.am_iters < 2:
        fail("--B and --L must be >= 1 and --am-iters >= 2")
    parts = (1 if "fwd" in what else 0) + (2 if "am" in what else 0)

    def share(p):
        return a.cap * p / parts

    t_import = time.monotonic()
    import numpy as np
    import pandas as pd
    import torch
    from scipy.sparse import coo_matrix
    import connectome_interpreter as cip
    from connectome_interpreter.activation_maximisation import (
        MultilayeredNetwork, TargetActivation, activation_maximisation)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    res = {"net": a.net, "B": a.B, "L": a.L, "torch": torch.__version__,
           "numpy": np.__version__, "reference": cip.__version__,
           "threads": torch.get_num_threads(), "import_s": time.monotonic() - t_import}

    t0 = time.monotonic()
    post, pre, w, sensory, n = load(np, pd, a.net, a.shared)
    res["n"], res["nnz"], res["S"] = n, len(w), len(sensory)
    w64 = w.astype(np.float64)
    res["wsum"] = float(w64.sum())
    res["wchk"] = float((w64 * (1 + (post % 97) + 100 * (pre % 89))).sum())
    del w64
    W = coo_matrix((w, (post, pre)), shape=(n, n))
    del post, pre, w
    device = torch.device("cpu")
    model = MultilayeredNetwork(W, sensory, num_layers=a.L, device=device)
    del W
    res["build_s"] = time.monotonic() - t0
    S = len(sensory)
    x = torch.from_numpy(workload_input(np, a.B, S, a.L))

    if "fwd" in what:
        tf = []
        start = time.monotonic()
        with torch.no_grad():
            model(x)  # warm-up
            first = time.monotonic() - start
            for r in range(3):
                if (time.monotonic() - start) + first > share(1) and (r > 0 or first > share(1) / 2):
                    break
                t1 = time.monotonic()
                model(x)
                tf.append(time.monotonic() - t1)
        if not tf:
            tf = [first]  # too slow for more: the warm-up is the sample
        res["fwd_s"], res["fwd_reps"] = median(tf), len(tf)
        res["fwd_min_s"], res["fwd_max_s"] = min(tf), max(tf)
        model.activations = None

    if "am" in what:
        rows = [{"batch": b, "layer": a.L - 1, "neuron": i, "value": 1.0}
                for b in range(a.B) for i in workload_targets(n, sensory)]
        targets = TargetActivation(targets=pd.DataFrame(rows), batch_size=a.B)
        stamps = []
        start = time.monotonic()

        def stamp(_module, _inputs):
            t = time.monotonic()
            # the (K+1)-th call is the final forward after the loop: not an iteration
            if len(stamps) >= a.am_iters or (len(stamps) >= 2 and t - start > share(2)):
                raise _Stop()
            stamps.append(t)

        hook = model.register_forward_pre_hook(stamp)
        try:
            activation_maximisation(model, targets, input_tensor=x.clone(),
                                    num_iterations=a.am_iters, early_stopping=False,
                                    use_tqdm=False, print_output=False, device=device)
        except _Stop:
            pass
        hook.remove()
        d = [stamps[k] - stamps[k - 1] for k in range(1, len(stamps))]
        res["am_iter_s"], res["am_reps"] = median(d), len(d)
        if d:
            res["am_min_s"], res["am_max_s"] = min(d), max(d)
        res["am_first_s"] = stamps[0] - start if stamps else float("nan")

    res["peak_mb"] = status_mb("VmHWM")
    out = []
    for k in sorted(res):
        v = res[k]
        if isinstance(v, float):
            v = "%.6g" % v
        out.append("%s=%s" % (k, str(v).replace(" ", "_")))
    sys.stdout.write("RESULT " + " ".join(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
