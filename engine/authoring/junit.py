"""JUnit XML for CI: one `<testcase>` per policy file checked (validate, lint) or per case (test).

CI systems (GitLab, Jenkins, GitHub test reporters) read this format; a failing check becomes a
`<failure>` whose message is the `file:line: field: message (hint)` line an author reads in the terminal.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import field

from ..records import record


@record(frozen=False)
class JUnitCase:
    classname: str
    name: str
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    output: list[str] = field(default_factory=list)


def junit_xml(suite: str, cases: Sequence[JUnitCase]) -> str:
    """A `<testsuites>` document with one suite; deterministic (no timestamps, no host names)."""
    failures = sum(1 for c in cases if c.failures)
    skipped = sum(1 for c in cases if c.skipped is not None and not c.failures)
    root = ET.Element("testsuites", name="signalwise", tests=str(len(cases)), failures=str(failures),
                      errors="0", skipped=str(skipped))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                         errors="0", skipped=str(skipped))
    for c in cases:
        tc = ET.SubElement(node, "testcase", classname=c.classname, name=c.name)
        if c.failures:
            f = ET.SubElement(tc, "failure", message=c.failures[0], type="failure")
            f.text = "\n".join(c.failures)
        elif c.skipped is not None:
            ET.SubElement(tc, "skipped", message=c.skipped)
        if c.output:
            ET.SubElement(tc, "system-out").text = "\n".join(c.output)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def per_file(suite: str, files: Sequence[str], failing: Sequence[tuple[str, str]],
             notes: Sequence[tuple[str, str]] = ()) -> str:
    """One case per file: `failing` (file, line) pairs fail it, `notes` go to its output. Findings about
    a file nobody named (a cycle folder, the baseline) get a case of their own."""
    order = list(dict.fromkeys(list(files) + [f for f, _ in failing] + [f for f, _ in notes]))
    cases = {name: JUnitCase(suite, name) for name in order}
    for name, line in failing:
        cases[name].failures.append(line)
    for name, line in notes:
        cases[name].output.append(line)
    return junit_xml(suite, list(cases.values()))
