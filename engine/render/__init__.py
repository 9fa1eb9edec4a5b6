"""Renderers: report dict -> text for a terminal, Markdown, HTML or JSON. No logic, only layout."""

from __future__ import annotations

from collections.abc import Callable

from . import html, json_out, markdown, text

RENDERERS: dict[str, Callable[..., str]] = {  # (report, verbose=False) -> text
    "text": text.render,
    "md": markdown.render,
    "json": json_out.render,
    "html": html.render,
}


def render_report(report: dict[str, object], fmt: str, verbose: bool = False, template_dir: str | None = None) -> str:
    """The report in `fmt`; HTML from the bundled templates or those in `template_dir` (--template)."""
    if fmt == "html":
        return html.render(report, verbose=verbose, template_dir=template_dir)
    return RENDERERS[fmt](report, verbose=verbose)
