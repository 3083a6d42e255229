"""The feature by model-family matrix of each provider page (``docs/providers/*.md``), rendered from
the declarations of :mod:`airoute.providers.capabilities` so the pages say what the gateway does.

``python -m airoute.providers.capability_matrix docs/providers`` rewrites the part of each page
between :data:`BEGIN` and :data:`END` (``make crd`` runs it); a test fails when a page is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from airoute.providers.capabilities import FEATURES, declarations

BEGIN = "<!-- capability matrix: generated from airoute/providers/capabilities.py, do not edit -->"
END = "<!-- end of capability matrix -->"
PAGES: dict[str, tuple[str, ...]] = {
    "azure-openai.md": ("azureOpenAI",),
    "bedrock.md": ("bedrock",),
    "vertex-ai.md": ("vertexAI",),
    "in-cluster.md": ("inCluster", "openAICompatible"),
    "openai-compatible.md": ("openAICompatible",),
}
MARK = {"yes": "✓", "no": "✗", "unknown": "?"}
BASELINE = ("Every backend takes text, `system` and `developer` messages, text content parts, streaming with "
            "`stream_options.include_usage`, `max_tokens` / `max_completion_tokens`, `temperature` up to 1, "
            "`top_p` and `stop`.")


def matrix_markdown(kinds: Sequence[str]) -> str:
    """The matrix of the declarations of ``kinds``, with its legend."""
    found = [d for d in declarations() if d.kind in kinds]
    header = "| feature | the request has | " + " | ".join(d.family for d in found) + " |"
    lines = [BASELINE, "", header, "| --- | --- |" + " --- |" * len(found)]
    for feature in FEATURES:
        marks = " | ".join(MARK[d.support(feature)] for d in found)
        lines.append(f"| `{feature.short}` | {feature.text} | {marks} |")
    lines += ["", "✓ taken and translated · ✗ refused: the gateway never sends such a request there (another "
              "backend of the route gets it, or the client a 400 `unsupported_by_route` naming the feature) · "
              "? depends on the model behind the backend: it may be sent there, and a 400 from it moves the "
              "request on to a backend that takes the feature.",
              "", "Sources: " + ", ".join(sorted({d.source for d in found if d.source})),
              "", "`tests/integration/gateway/test_feature_matrix.py` sends each feature through an `airoute "
              "gateway` process with OpenAI's own client, to each provider alone and to a route of all four."]
    return "\n".join(lines) + "\n"


def render(page: str, kinds: Sequence[str]) -> str:
    """``page`` with its matrix replaced (or appended under a heading when it has none)."""
    block = f"{BEGIN}\n{matrix_markdown(kinds)}{END}"
    if BEGIN in page and END in page:
        head, _, rest = page.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    return page.rstrip("\n") + "\n\n## What it takes\n\n" + block + "\n"


def stale_pages(folder: Path, write: bool = False) -> list[str]:
    """The pages whose matrix is not current (rewritten when ``write``)."""
    stale = []
    for name, kinds in PAGES.items():
        path = folder / name
        text = path.read_text()
        current = render(text, kinds)
        if current != text:
            stale.append(name)
            if write:
                path.write_text(current)
    return stale


if __name__ == "__main__":  # pragma: no cover
    for written in stale_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/providers"), write=True):
        print(f"updated {written}")
