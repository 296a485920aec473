"""Forward+backward speed of WindowScorer (.v3, composed of Windows, Hidden and Output) against
the published WindowScorer.v2 with the same weights, the same network composed from thinc's own
layers, and the GEMM floor, in one process with interleaved repeats in a new order each round.

    python -m benchmarks.layer [--repeats 30] [--tokens 2000]
"""
import random
import time
from typing import Callable, Dict, List

import numpy
import typer
from thinc.api import HardTanh, Linear, chain, expand_window, get_current_ops, with_array

from spacy_window_ner.layers.window_scorer import WindowScorer
from spacy_window_ner.legacy.layers import WindowScorer_v2

N_I, WINDOW, N_O = 96, 2, 17


def make_batch(n_tokens: int, seed: int = 0) -> List[numpy.ndarray]:
    rng = numpy.random.RandomState(seed)
    ops = get_current_ops()
    docs, total = [], 0
    while total < n_tokens:
        n = int(rng.randint(5, 60))
        docs.append(ops.asarray2f(rng.uniform(-1, 1, (n, N_I)).astype("f")))
        total += n
    return docs


def step(model, docs) -> Callable[[], None]:
    dYs = [model.ops.alloc2f(len(d), N_O) + 0.01 for d in docs]

    def run() -> None:
        Ys, backprop = model.begin_update(docs)
        backprop(dYs)

    return run


def synchronize() -> None:
    """Wait for the kernels queued on the GPU, so that a timing counts them (no-op on the CPU)."""
    xp = get_current_ops().xp
    if xp is not numpy:
        xp.cuda.get_current_stream().synchronize()


def gemm_floor(n_tokens: int, hidden: int) -> Callable[[], None]:
    """The layer's six matrix products alone (Z, S, dU, dH, dW, dX_win), with the same matmul."""
    ops = get_current_ops()
    nF = 2 * WINDOW + 1
    X_win = ops.alloc2f(n_tokens, nF * N_I) + 0.1
    W = ops.alloc2f(hidden, nF * N_I) + 0.1
    U = ops.alloc2f(N_O, hidden) + 0.1
    H = ops.alloc2f(n_tokens, hidden) + 0.1
    dS = ops.alloc2f(n_tokens, N_O) + 0.1

    def run() -> None:
        X_win @ W.T
        H @ U.T
        dS.T @ H
        dS @ U
        H.T @ X_win
        H @ W

    return run


def main(repeats: int = typer.Option(30, help="Interleaved timing rounds"),
         tokens: int = typer.Option(2000, help="Tokens per minibatch")) -> None:
    docs = make_batch(tokens)
    n_tokens = sum(len(d) for d in docs)
    print(f"ops={type(get_current_ops()).__name__} minibatch: {len(docs)} docs, {n_tokens} tokens, "
          f"nI={N_I} k={WINDOW} nO={N_O}, activation hard_tanh, best of {repeats} interleaved rounds")
    for hidden in (128, 300):
        ours = WindowScorer(N_O, N_I, window_size=WINDOW, hidden_width=hidden, activation="hard_tanh")
        ours.initialize()
        v2 = WindowScorer_v2(N_O, N_I, window_size=WINDOW, hidden_width=hidden, activation="hard_tanh")
        v2.initialize()
        for name in ("W", "b", "U", "c", "pad"):
            holder = next(node for node in v2.walk() if name in node.param_names)
            holder.set_param(name, next(n for n in ours.walk() if name in n.param_names).get_param(name).copy())
        ref = with_array(chain(expand_window(WINDOW), HardTanh(hidden), Linear(N_O)), pad=WINDOW)
        ref.initialize(X=docs[:2])
        runs: Dict[str, Callable[[], None]] = {
            "WindowScorer": step(ours, docs),
            "WindowScorer.v2": step(v2, docs),
            "thinc reference": step(ref, docs),
            "GEMM floor": gemm_floor(n_tokens, hidden),
        }
        best = {name: float("inf") for name in runs}
        order = list(runs.items())
        shuffle = random.Random(0).shuffle
        for _ in range(repeats):
            # A new order each round: a system that always ran right after the GEMM floor (or any
            # other) would find the caches as that one leaves them, and time differently.
            shuffle(order)
            for name, run in order:
                start = time.perf_counter()
                run()
                synchronize()
                best[name] = min(best[name], time.perf_counter() - start)
        print(f"\nhidden={hidden}")
        for name, seconds in best.items():
            print(f"  {name:16s} {seconds * 1e3:8.3f} ms  {n_tokens / seconds:12,.0f} tokens/s")
        print(f"  speed-up over the thinc reference: {best['thinc reference'] / best['WindowScorer']:.2f}x")
        print(f"  time relative to WindowScorer.v2:  {best['WindowScorer'] / best['WindowScorer.v2']:.3f}x")
        print(f"  time relative to the GEMM floor:   {best['WindowScorer'] / best['GEMM floor']:.2f}x")


if __name__ == "__main__":
    typer.run(main)
