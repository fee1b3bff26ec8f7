"""The figures of RESULTS.md (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"mdiff": "#1f77b4", "sympy": "#d62728", "tensorgrad": "#2ca02c"}


def depth(rows, path: Path, machine: str):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [("seconds", "parse + diff + simplify + print (s)"),
              ("printed", "printed result (characters)"),
              ("code", "generated code (characters)")]
    for ax, (attr, label) in zip(axes, panels):
        for written, marker in (("let", "o"), ("nested", "s")):
            pts = [(r.layers, getattr(r, attr)) for r in rows if r.written == written]
            if not pts:
                continue
            L, y = zip(*pts)
            ax.loglog(L, y, marker=marker, label=f"{written}-bound" if written == "let" else written)
        pts = [(r.layers, getattr(r, attr)) for r in rows if r.written == "let"]
        if pts:
            L = np.array([p[0] for p in pts], float)
            y0 = pts[-1][1] / L[-1]
            ax.loglog(L, y0 * L, "k:", lw=1, label="linear in L")
        ax.set_xlabel("layers L")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"MLP gradient wrt W1 vs depth — {machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def corpus(rows, path: Path, machine: str, peer_names=("sympy", "tensorgrad")):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    series = {"mdiff": [r.mdiff_s for r in rows]}
    for name in peer_names:
        series[name] = [r.peers[name].seconds for r in rows
                        if name in r.peers and r.peers[name].status == "correct"]
    for name, ts in series.items():
        if not ts:
            continue
        ts = np.sort(np.array(ts) * 1e3)
        ax.step(ts, np.arange(1, len(ts) + 1) / len(rows), where="post", color=COLORS.get(name),
                label=f"{name} ({len(ts)} problems)")
    ax.set_xscale("log")
    ax.set_xlabel("time per problem (ms)")
    ax.set_ylabel("fraction of the corpus answered (correctly) within")
    ax.axvline(1, color="gray", ls=":", lw=1)
    ax.axvline(10, color="gray", ls=":", lw=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("corpus: time to a (correct) derivative", fontsize=10)

    ax = axes[1]
    lo, hi = 1e9, 0
    for name in peer_names:
        pts = [(r.mdiff_s * 1e3, r.peers[name].seconds * 1e3) for r in rows
               if name in r.peers and r.peers[name].status == "correct"]
        if not pts:
            continue
        x, y = zip(*pts)
        lo, hi = min(lo, min(x)), max(hi, max(x))
        ax.scatter(x, y, s=12, alpha=0.7, color=COLORS.get(name), label=name)
    if hi > 0:
        g = np.array([lo / 2, hi * 2])
        for k, style in ((1, "k-"), (10, "k--"), (100, "k:")):
            ax.plot(g, k * g, style, lw=0.8, label=f"{k}× mdiff")
        ax.set_xlim(g[0], g[1])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("mdiff (ms)")
    ax.set_ylabel("peer (ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("per problem, where the peer's answer is correct", fontsize=10)
    fig.suptitle(f"Symbolic speed — {machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def numeric(results, path: Path, machine: str):
    groups = []
    for r in results:
        key = (r.problem, r.size)
        if key not in groups:
            groups.append(key)
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 1.0 + 1.25 * max(1, len(groups)) * 1.6),
                             squeeze=False)
    for ax, (problem, size) in zip(axes[:, 0], groups):
        rows = [r for r in results if (r.problem, r.size) == (problem, size)
                and r.seconds is not None]
        labels = [f"{r.method} [{r.what}]" for r in rows]
        vals = [r.seconds * 1e3 for r in rows]
        colors = ["#1f77b4" if r.method.startswith("mdiff") else
                  "#7f7f7f" if r.method.startswith("hand") else "#ff7f0e" for r in rows]
        y = np.arange(len(rows))
        ax.barh(y, vals, color=colors)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(min(vals) / 1.5, max(vals) * 4)
        ax.invert_yaxis()
        for yi, v in zip(y, vals):
            ax.text(v, yi, f" {v:.3g} ms", va="center", fontsize=7)
        ax.set_title(f"{problem}, {size} (median per call, ms; log scale)", fontsize=9)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.suptitle(f"Generated code vs autodiff and hand-written numpy — {machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
