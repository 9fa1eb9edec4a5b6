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
