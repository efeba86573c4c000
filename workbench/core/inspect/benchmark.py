"""Attribution's benchmark (``python -m workbench.core.inspect.benchmark``): ResNet-18 at 224×224 on the CPU.

Each figure beside its baseline, measured in the same run (medians; the machines are shared and noisy):

- a plain forward pass (no gradients), the baseline of everything below;
- Grad-CAM at the default layer (goal: ≤ 120 ms beyond the forward pass), and what the window computes after
  a drop (``why``: the predicted and the second class at that layer and the strip at every stage, one pass);
- the strip of all five stages against one CAM (goal ≤ 1.3×), against one CAM computed the usual way
  (``backward()`` through the whole network, as pytorch-grad-cam does) and against five separate CAMs;
- a knock-out re-prediction (the graph replayed with a residual branch off) against the forward pass (goal
  ≤ forward + 50 ms);
- Integrated Gradients with 50 steps (goal ≤ 3 s) and its first preview (goal ≤ 0.6 s).

``--threads N`` sets torch's threads (the window's jobs run with one: ``--threads 1`` is what a drop costs
there while a run trains)."""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _median(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(rounds: int = 9, ig_rounds: int = 2) -> dict:
    import models

    from .ablation import KnockOut, graph_for, knock_out
    from .attribution import cam_maps, default_layer, stage_cams, stage_layers, why
    from .input_attribution import attribute

    torch.manual_seed(0)
    model = models.create_model("resnet18", num_classes=1000).eval()
    x = torch.randn(1, 3, 224, 224)
    default_layer(model, x)  # the rule's pass and the graph, once, as the window has them after a build
    graph_for(model, x.shape)
    stages = stage_layers(model, x)

    def forward():
        with torch.no_grad():
            model(x)

    def conventional():
        """Grad-CAM the usual way (pytorch-grad-cam's): a forward pass with gradients everywhere, a hook on the
        layer's output and ``backward()`` of the score through the whole network, weights included."""
        kept = {}

        def hook(module, args, output):
            kept["a"] = output
            output.register_hook(lambda g: kept.update(g=g))
        handle = model.layer4.register_forward_hook(hook)
        try:
            model(x)[0, 3].backward()
        finally:
            handle.remove()
            model.zero_grad(set_to_none=True)
        weights = kept["g"].mean((2, 3), keepdim=True)
        return torch.relu((weights * kept["a"].detach()).sum(1))
    out = {"threads": torch.get_num_threads(), "forward": _median(forward, rounds),
           "cam": _median(lambda: cam_maps(model, x, [3]), rounds),
           "conventional": _median(conventional, rounds),
           "why": _median(lambda: why(model, x), rounds),
           "strip": _median(lambda: stage_cams(model, x, 3), rounds),
           "five": _median(lambda: [cam_maps(model, x, [3], [s]) for s in stages], max(3, rounds // 3)),
           "knock": _median(lambda: knock_out(model, x, KnockOut("layer2.0:add", branch=0)), rounds)}
    firsts, totals = [], []
    for _ in range(ig_rounds):
        start = time.perf_counter()
        seen = []
        attribute(model, x, 3, "integrated_gradients", steps=50, preview=lambda a: seen.append(time.perf_counter()))
        totals.append(time.perf_counter() - start)
        firsts.append(seen[0] - start)
    out.update(ig=statistics.median(totals), ig_preview=statistics.median(firsts))
    return out


def report(r: dict) -> None:
    f = r["forward"]
    print(f"attribution: ResNet-18 at 224×224, CPU, {r['threads']} torch thread(s)")
    print(f"  plain forward                   {f * 1000:7.1f} ms")
    print(f"  Grad-CAM (layer4, one class)    {r['cam'] * 1000:7.1f} ms   {(r['cam'] - f) * 1000:+.1f} ms beyond the "
          f"forward pass (goal ≤ +120 ms)")
    print(f"  after a drop: two classes and the strip, one pass {r['why'] * 1000:7.1f} ms   "
          f"{(r['why'] - f) * 1000:+.1f} ms beyond the forward pass")
    print(f"  Grad-CAM the usual way (backward() through every layer and weight) {r['conventional'] * 1000:7.1f} ms "
          f"= {r['conventional'] / r['cam']:.2f}× ours")
    print(f"  the strip, 5 stages             {r['strip'] * 1000:7.1f} ms   {r['strip'] / r['cam']:.2f}× one CAM (goal "
          f"≤ 1.3×), {r['strip'] / r['conventional']:.2f}× one CAM the usual way, {r['strip'] / r['five']:.2f}× five "
          f"separate CAMs")
    print(f"  knock-out re-prediction         {r['knock'] * 1000:7.1f} ms   {(r['knock'] - f) * 1000:+.1f} ms beyond "
          f"the forward pass (goal ≤ +50 ms)")
    print(f"  Integrated Gradients, 50 steps  {r['ig']:7.2f} s    first preview {r['ig_preview']:.2f} s "
          f"(goals ≤ 3 s, ≤ 0.6 s)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    report(run(args.rounds))


if __name__ == "__main__":
    main()
