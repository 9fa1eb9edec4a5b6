"""Renderers: report dict -> text for a terminal, Markdown, HTML or JSON. No logic, only layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module

_MODULES = {"text": "text", "md": "markdown", "json": "json_out", "html": "html"}


class _Renderers(Mapping[str, Callable[..., str]]):
    """format -> render(report, verbose=False); a renderer's module is imported on first use, so a JSON
    report never pays for importing the HTML, SVG and Markdown layouts (cold CLI start-up)."""

    def __getitem__(self, fmt: str) -> Callable[..., str]:
        render: Callable[..., str] = import_module(f"{__name__}.{_MODULES[fmt]}").render
        return render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


RENDERERS: Mapping[str, Callable[..., str]] = _Renderers()
