"""How much of a training step unit-wise AGC cannot avoid: its passes over weights and gradients.

Trains the parameter-bound MLP of `callbacks_overhead.py` (256-512-512-10, batch 128, Adam, one
torch thread) by hand and times, inside every step, the operations exact unit-wise clipping
needs: the per-unit norms of the weights, the per-unit norms of the gradients, and one in-place
rescale of every gradient; beside them, forward+backward and the Adam step. Medians over steps
after a warm-up. Run: `PYTHONPATH=. python benchmarks/agc_floor.py [--steps 500]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn


def unit_norms(t: torch.Tensor) -> torch.Tensor:
    if t.ndim > 1:
        return torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1)
    return torch.linalg.vector_norm(t).reshape(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.randn(128, 256), torch.randint(0, 10, (128,))
    params = list(net.parameters())
    times: dict[str, list[float]] = {
        k: [] for k in ("forward+backward", "weight norms", "gradient norms", "rescale", "Adam")
    }

    def clock(name: str, fn: object) -> None:
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times[name].append(time.perf_counter() - start)

    for _ in range(args.steps):
        opt.zero_grad()
        clock("forward+backward", lambda: nn.functional.cross_entropy(net(x), y).backward())
        with torch.no_grad():
            clock("weight norms", lambda: [unit_norms(p) for p in params])
            clock("gradient norms", lambda: [unit_norms(p.grad) for p in params])
            clock("rescale", lambda: [p.grad.mul_(0.999) for p in params])
        clock("Adam", opt.step)
    med = {k: statistics.median(v[args.warmup :]) * 1e3 for k, v in times.items()}
    step = sum(med.values()) - med["weight norms"] - med["gradient norms"] - med["rescale"]
    print(f"median ms per step, {args.steps - args.warmup} steps; step without AGC: {step:.2f} ms")
    for k, v in med.items():
        print(f"  {k:17s} {v:7.3f} ms  ({100 * v / step:5.1f}% of the step without AGC)")
    floor = med["weight norms"] + med["gradient norms"]
    print(f"  norms alone (the floor of exact AGC): {floor:.3f} ms = {100 * floor / step:.1f}%")


if __name__ == "__main__":
    main()
