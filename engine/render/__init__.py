"""Renderers: report dict -> text for a terminal, Markdown, HTML or JSON. No logic, only layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from importlib import import_module

_MODULES = {"text": "text", "md": "markdown", "json": "json_out", "html": "html"}


class _Renderers(MutableMapping[str, Callable[..., str]]):
    """format -> render(report, verbose=False); a renderer's module is imported on first use, so a JSON
    report never pays for importing the HTML, SVG and Markdown layouts (cold CLI start-up). Assigning
    a format replaces its renderer (tests do, to simulate a failing one)."""

    def __init__(self) -> None:
        self._set: dict[str, Callable[..., str]] = {}

    def __getitem__(self, fmt: str) -> Callable[..., str]:
        if fmt in self._set:
            return self._set[fmt]
        render: Callable[..., str] = import_module(f"{__name__}.{_MODULES[fmt]}").render
        return render

    def __setitem__(self, fmt: str, render: Callable[..., str]) -> None:
        self._set[fmt] = render

    def __delitem__(self, fmt: str) -> None:
        del self._set[fmt]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*_MODULES, *self._set]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*_MODULES, *self._set]))


RENDERERS: MutableMapping[str, Callable[..., str]] = _Renderers()


def render_report(report: dict[str, object], fmt: str, verbose: bool = False, template_dir: str | None = None) -> str:
    """The report in `fmt`; HTML from the bundled templates or those in `template_dir` (--template)."""
    if fmt == "html":
        return RENDERERS["html"](report, verbose=verbose, template_dir=template_dir)
    return RENDERERS[fmt](report, verbose=verbose)
