"""HTML pages from Jinja2 templates: the bundled ones, or an advising office's own (`--template DIR`).

Why templates: the evaluate report and the track page share one layout and one stylesheet
(`base.html.j2`, `style.css.j2`), and an office can brand both by overriding any file in a folder of its
own (`brand.html.j2` for a header, `brand.css.j2` for colours, or any other template); files it does not
override come from the bundled set (a ChoiceLoader). Autoescape is on, undefined names are errors
(StrictUndefined), and the templates run sandboxed: an office's template can format data, not reach into
Python. A broken template folder is the user's input error (exit 2, file:line), never a traceback.
Rendering has no clock and no randomness, so the same report gives the same bytes.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import InputError, Problem

if TYPE_CHECKING:  # jinja2 is imported only when a page is rendered: text and JSON runs never pay for it
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

BUNDLED = Path(__file__).parent / "templates"
SUFFIX = ".j2"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _environment(template_dir: str | None) -> SandboxedEnvironment:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment
    from markupsafe import Markup

    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(template_dir, encoding="utf-8"))
    loaders.append(jinja2.FileSystemLoader(str(BUNDLED), encoding="utf-8"))
    env = SandboxedEnvironment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                               undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True,
                               auto_reload=template_dir is not None)  # an office may edit its templates
    env.globals["csp"] = Markup(CSP)  # a constant of ours, with quotes an attribute in double quotes may hold
    return env


@lru_cache(maxsize=8)
def environment(template_dir: str | None = None) -> SandboxedEnvironment:
    """The template environment for `template_dir` (None: the bundled templates only), checked first."""
    if template_dir is not None:
        check_template_dir(template_dir)
    return _environment(template_dir)


def check_template_dir(template_dir: str) -> None:
    """Refuse a template folder that is missing, or holds a template that does not compile."""
    folder = Path(template_dir)
    if not folder.is_dir():
        raise InputError([Problem(template_dir, None, None, "template folder not found",
                                  "give a folder holding templates named like the bundled ones, "
                                  "e.g. brand.html.j2")]) from None
    import jinja2

    env = _environment(template_dir)
    for path in sorted(folder.rglob(f"*{SUFFIX}")):
        name = path.relative_to(folder).as_posix()
        try:
            env.get_template(name)
        except jinja2.TemplateError as exc:
            raise _problem(exc, template_dir, name) from None


def render_page(name: str, context: dict[str, Any], template_dir: str | None = None) -> str:
    """Render template `name` (e.g. "report.html.j2") with `context`; template faults are input errors."""
    import jinja2

    env = environment(template_dir)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise _problem(exc, template_dir, name, sys.exc_info()[2]) from None
    except RecursionError:
        if template_dir is None:  # the bundled templates never recurse: a bug of ours, not the user's
            raise
        raise InputError([Problem(template_dir, None, None,
                                  "the templates include or extend each other in a circle",
                                  "a template may include another one only if that one does not lead "
                                  "back to it")]) from None


def _problem(exc: jinja2.TemplateError, template_dir: str | None, name: str,
             tb: TracebackType | None = None) -> InputError:
    """file:line: message for a template fault, the line taken from the error or the template's frame."""
    import jinja2

    file: str | None = getattr(exc, "filename", None)
    line: int | None = getattr(exc, "lineno", None)
    if line is None and tb is not None:  # an error while rendering: the innermost template frame says where
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.endswith(SUFFIX):
                file, line = code.co_filename, tb.tb_lineno
            tb = tb.tb_next
    if file is None:
        file = str(Path(template_dir) / name) if template_dir else name
    if isinstance(exc, jinja2.TemplateNotFound):
        message = f"template not found: {exc.name}"
    elif isinstance(exc, jinja2.UndefinedError):
        message = f"the template uses a name the page does not have: {exc.message}"
    elif isinstance(exc, jinja2.TemplateSyntaxError):
        message = f"template syntax error: {exc.message}"
    else:
        message = f"template error: {exc}"
    return InputError([Problem(file, line, None, message)])
