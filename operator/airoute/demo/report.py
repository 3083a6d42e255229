"""The demo's outputs: a PNG timeline (weights and error rates, events marked) and a markdown report."""

from __future__ import annotations

from pathlib import Path

from airoute.demo.load import Tally
from airoute.demo.scenario import Findings

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama")
COLOURS = {"azure-eu": "#0078d4", "bedrock-eu": "#ff9900", "vertex-eu": "#34a853", "local-llama": "#8e44ad"}


def write_png(findings: Findings, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = findings.started
    xs = [s.at - t0 for s in findings.samples]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 8), sharex=True, height_ratios=[3, 2, 1.2])
    stacks = [[s.weights.get(b, 0) for s in findings.samples] for b in BACKENDS]
    top.stackplot(xs, *stacks, labels=BACKENDS, colors=[COLOURS[b] for b in BACKENDS], alpha=0.85)
    top.set_ylabel("effective weight (%)")
    top.set_ylim(0, 100)
    top.legend(loc="lower left", ncol=4, fontsize=8, framealpha=0.9)
    top.set_title("airoute demo: support-chat through an outage, a bad canary and a drill", pad=18)
    for b in BACKENDS[:3]:
        middle.plot(xs, [s.error_rates.get(b, 0.0) for s in findings.samples], label=b, color=COLOURS[b])
    middle.set_ylabel("backend error rate")
    middle.set_ylim(0, 1.05)
    bottom.plot(xs, [s.rps for s in findings.samples], label="client requests/s", color="black")
    bottom.plot(xs, [s.failed_ps for s in findings.samples], label="client errors/s", color="red")
    bottom.set_ylabel("clients")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper left", fontsize=8)
    for at, label in findings.short_markers:
        for ax in (top, middle, bottom):
            ax.axvline(at - t0, color="grey", linestyle="--", linewidth=0.8)
        top.annotate(
            label, (at - t0, 101), fontsize=8, va="bottom", ha="center", color="dimgrey", annotation_clip=False
        )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def markdown(findings: Findings, tally: Tally, png: Path | None) -> str:
    drill = findings.drill
    total = tally.ok + tally.failed
    lines = [
        "# airoute demo report",
        "",
        "| what | measured |",
        "| --- | --- |",
        f"| client requests | {total} ({tally.ok} answered, {tally.failed} failed, {tally.degraded} degraded) |",
        f"| time to failover (Azure down → its weight at 0) | {_seconds(findings.failover_seconds)} |",
        f"| client errors during the Azure outage | {findings.outage_client_errors} |",
        f"| time to recover (Azure back → full weight) | {_seconds(findings.recovery_seconds)} |",
        f"| time to roll back the bad canary | {_seconds(findings.rollback_seconds)} |",
        f"| canary share after the rollback | {findings.canary_weight_after}% |",
    ]
    if drill is not None:
        lines += [
            f"| drill: traffic shifted away from vertex-eu after | {_seconds(drill.weight_shifted_after)} |",
            f"| drill: full weight back after the drill ended | {_seconds(drill.recovered_after)} |",
            f"| drill: client-visible errors | {'—' if drill.client_errors is None else f'{drill.client_errors:g}'} |",
        ]
    lines += ["", "## Why the canary was rolled back", "", findings.rollback_message or "—", "", "## Timeline", ""]
    t0 = findings.started
    lines += [f"- {at - t0:6.1f} s — {label}" for at, label in findings.markers]
    lines += ["", "## Decisions (controller events)", ""]
    lines += [f"- {at - t0:6.1f} s — **{reason}**: {message}" for at, reason, message in findings.events]
    if tally.failures:
        lines += ["", "## Client failures seen", "", *(f"- {f}" for f in tally.failures)]
    if png is not None:
        lines += ["", f"![timeline]({png.name})"]
    return "\n".join(lines) + "\n"
