"""After submission: read the interview log, judge the season's pace by policy, advise per program.

Load the log (CSV or YAML, schema-validated, every problem with file:line), join it to the shortlist
and, when given, to the report that planned the signals; turn it into `season` and `tracked` facts;
chain the tracking policies (policies/tracking/) with the same runtime as `evaluate`; return a plain
report dict. Calendar, pace curve and interview targets are policy data; this module only interpolates.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ..chain.facts import FactStore, make_fact
from ..chain.runtime import Firing, firing_bound, runtime_for
from ..errors import InputError, Problem
from ..explain.report import source_text
from ..load.files import read_text
from ..load.inputs import Shortlist, _Problems, load_programs
from ..load.report import load_report
from ..load.schemas import load_schema, schema_problems
from ..load.yamlsafe import load_yaml_text
from ..policy.catalogue import Catalogue, bundled_root, choose_season, today
from ..policy.check import check_policy_set
from ..policy.model import PolicySet, SourceRef
from ..policy.specialties import resolve_specialty
from ..policy.templates import render
from ..records import record

# Dates a season can have (docs/reliability.md): logs, --as-of and --review-from outside this range are
# typing mistakes. The weekly timeline (and its chart) stops MAX_SEASON_DAYS after review began: later than
# that the season is over, and the report says so instead of drawing years of empty weeks.
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2100, 12, 31)
MAX_SEASON_DAYS = 400
DEFAULT_TIERS = ("signal", "gold", "silver")  # tier names of the application systems, without a report

EVENT_ORDER = {"applied": 0, "signaled": 1, "invited": 2, "waitlisted": 3, "interviewed": 4, "rejected": 5,
               "withdrawn": 6}
LOG_COLUMNS = ("program", "date", "event", "tier", "note")


@record
class Event:
    program: str
    day: date
    event: str
    tier: str | None
    line: int


@record
class TrackRequest:
    log: str
    programs: str
    report: str | None = None
    as_of: date | None = None
    specialty: str | None = None
    cycle: str | None = None
    target: int | None = None
    review_from: date | None = None
    policies: str | None = None


def parse_day(value: str) -> date | None:
    """A `YYYY-MM-DD` date between MIN_DATE and MAX_DATE, or None (`fromisoformat` also takes 20250101)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if MIN_DATE <= day <= MAX_DATE else None


def load_log(path: str, shortlist: Shortlist, tiers: tuple[str, ...] = DEFAULT_TIERS) -> list[Event]:
    """Events from a CSV (`program,date,event,tier,note`) or YAML list, checked against the shortlist.

    `tiers`: the signal tiers a `signaled` event may name (the plan's, when a report is given). At most
    50 problems are listed; reading stops at the 51st, as for the other inputs."""
    text = read_text(path)
    rows: list[tuple[dict[str, Any], int]] = []
    problems = _Problems(path)
    if path.lower().endswith((".yaml", ".yml")):
        data, pos = load_yaml_text(text, path)
        if isinstance(data, dict) and list(data) == ["events"]:
            data, pos = data["events"], {k[1:]: v for k, v in pos.items() if k and k[0] == "events"}
        if not isinstance(data, list):
            raise InputError([Problem(path, 1, None, "an interview log must be a list of events",
                                      "each item: {program, date, event, tier?, note?}")])
        for i, item in enumerate(data):
            line = pos.get((i,), 0)
            if not isinstance(item, dict):
                problems.add(Problem(path, line, f"[{i}]", "each event must be a mapping"))
                continue
            item = {k: (str(v) if k == "date" else v) for k, v in item.items()}
            rows.append((item, line))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except (StopIteration, csv.Error) as exc:
            raise InputError([Problem(path, 1, None, f"cannot read the CSV header: {exc}")]) from None
        for col in header:
            if col not in LOG_COLUMNS:
                problems.add(Problem(path, 1, col[:60], f"unknown column '{col[:60]}'",
                                     f"expected columns: {', '.join(LOG_COLUMNS)}"))
        line = 2
        try:
            for cells in reader:
                start, line = line, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    problems.add(Problem(path, start, None, f"row has {len(cells)} values, header has {len(header)}"))
                    continue
                rows.append(({k: v.strip() for k, v in zip(header, cells, strict=True) if v.strip()}, start))
        except csv.Error as exc:
            problems.add(Problem(path, reader.line_num, None, f"malformed CSV: {exc}"))
    ids = {p["id"] for p in shortlist.programs}
    events = []
    for row, line in rows:
        found = schema_problems("interview-log", row, path, {}, line_of=lambda _p, ln=line: ln)
        if found:
            problems.extend(found)
            continue
        if row["program"] not in ids:
            problems.add(Problem(path, line, "program", f"'{row['program']}' is not on the shortlist {shortlist.file}",
                                 "log only programs from your shortlist"))
            continue
        day = parse_day(row["date"])
        if day is None:
            problems.add(Problem(path, line, "date", f"got {row['date']!r}; expected a real date YYYY-MM-DD "
                                 f"between {MIN_DATE} and {MAX_DATE}"))
            continue
        if row["event"] == "signaled" and not row.get("tier"):
            problems.add(Problem(path, line, "tier", "a `signaled` event needs the tier (signal, gold or silver)"))
            continue
        if row.get("tier") and row["tier"] not in tiers:
            problems.add(Problem(path, line, "tier", f"got {row['tier']!r}; expected one of: {', '.join(tiers)}",
                                 "the tiers of your plan" if tiers != DEFAULT_TIERS else None))
            continue
        events.append(Event(row["program"], day, row["event"], row.get("tier"), line))
    problems.raise_if_any()
    return sorted(events, key=lambda e: (e.day, e.program, EVENT_ORDER[e.event], e.line))


def load_plan(path: str) -> dict[str, Any]:
    """The JSON report that planned the signals (decisions, fits, tier, specialty, cycle), checked."""
    return load_report(path, hint="pass a report written by `signalwise evaluate --format json`")


def program_statuses(events: list[Event], as_of: date) -> dict[str, dict[str, Any]]:
    """Latest status per program from events up to `as_of` (later events, then stronger events, win)."""
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.day > as_of:
            continue
        st = out.setdefault(e.program, {"applied": False, "signaled_tier": None, "status": "silent",
                                        "last": e.day, "invited_on": None})
        st["last"] = max(st["last"], e.day)
        if e.event == "applied":
            st["applied"] = True
        elif e.event == "signaled":
            st["signaled_tier"] = e.tier
            st["applied"] = True
        elif e.event in ("invited", "interviewed"):
            st["status"] = "invited"
            st["invited_on"] = st["invited_on"] or e.day
        elif e.event in ("rejected", "waitlisted", "withdrawn"):
            st["status"] = e.event
    return out


def _pace_share(points: list[dict[str, Any]], day: int) -> float:
    pts = sorted(points, key=lambda p: p["day"])
    if day <= pts[0]["day"]:
        return float(pts[0]["share"])
    for a, b in zip(pts, pts[1:], strict=False):
        if day <= b["day"]:
            return float(a["share"] + (b["share"] - a["share"]) * (day - a["day"]) / (b["day"] - a["day"]))
    return float(pts[-1]["share"])


def track(req: TrackRequest) -> dict[str, Any]:
    _check_options(req)
    shortlist = load_programs(req.programs)
    plan = load_plan(req.report) if req.report else None
    plan_tiers = tuple(s["tier"] for s in (plan or {}).get("signals", []))
    events = load_log(req.log, shortlist, plan_tiers or DEFAULT_TIERS)
    as_of = req.as_of or today()
    catalogue = Catalogue(Path(req.policies) if req.policies else bundled_root())
    specialty = (resolve_specialty(catalogue.root, req.specialty, ("command line", None), "--specialty")
                 if req.specialty else (plan or {}).get("specialty") or "unknown")
    cycle = req.cycle or (plan or {}).get("cycle")
    cycle_choice = None
    if not cycle:  # the season the log belongs to, by the policies' effective dates
        day = events[0].day if events else as_of
        choice = choose_season(catalogue.seasons(), specialty, day)
        cycle = choice.season.cycle if choice else "unknown"
        if choice:
            what = "the log's first event" if events else "--as-of"
            cycle_choice = (f"cycle {cycle} chosen from {what} ({day.isoformat()}) by the effective dates of "
                            f"{choice.season.policy} ({choice.season.start} to {choice.season.end})")
    tier = (plan or {}).get("applicant", {}).get("tier", "any")
    ps = PolicySet(catalogue.tracking(), None)
    check_policy_set(ps)
    core = next(p for p in ps.guidance if p.stages)
    raw = core.raw
    ctx: dict[str, Any] = {n: prm.value for p in ps.policies for n, prm in p.parameters.items()
                           if prm.value is not None}
    ctx.update({"specialty": specialty, "cycle": cycle, "applicant_tier": tier, "as_of": as_of.isoformat()})
    season_src: str | None = None
    review_from = req.review_from
    if review_from is None:
        for s in raw.get("seasons", []):
            if s["cycle"] == cycle and s.get("specialty") in (None, specialty):
                review_from = date.fromisoformat(s["review_from"])
                season_src = source_text(ps, core.ref, _ref(s["source"]))
    else:
        season_src = "--review-from on the command line"
    pace_points = (raw.get("pace") or {}).get("points", [])
    if review_from is not None:
        ctx["review_from"] = review_from.isoformat()
        ctx["days_since_review"] = (as_of - review_from).days
        if pace_points:
            ctx["expected_share"] = round(_pace_share(pace_points, ctx["days_since_review"]), 4)
    target_src = None
    if req.target is not None:
        ctx["target_min"] = ctx["target_max"] = req.target
        target_src = "--target on the command line"
    else:
        for t in raw.get("interview_targets", []):
            if t["specialty"] == specialty and t["tier"] in ("any", tier):
                ctx["target_min"], ctx["target_max"] = t["min"], t.get("max", t["min"])
                target_src = source_text(ps, core.ref, _ref(t["source"]))
                break
    if "target_min" in ctx and "expected_share" in ctx:
        ctx["expected_by_now"] = round(ctx["target_min"] * ctx["expected_share"], 1)
    statuses = program_statuses(events, as_of)
    decisions = {p["id"]: p for p in (plan or {}).get("programs", [])}
    levels = {s["tier"] for s in (plan or {}).get("signals", [])}
    tracked = []
    for prog in sorted(shortlist.programs, key=lambda p: p["id"]):
        pid = prog["id"]
        st = statuses.get(pid)
        planned = decisions.get(pid, {})
        planned_tier = planned.get("decision") if planned.get("decision") in levels else None
        tier_sent = (st or {}).get("signaled_tier") or planned_tier
        if st is None and not tier_sent:
            continue  # not applied, not signaled: nothing to track
        status = st["status"] if st else "silent"
        tracked.append({"id": pid, "name": prog["name"], "state": prog["state"], "signaled": bool(tier_sent),
                        "tier": tier_sent or "none", "fit": planned.get("fit", "unknown"), "status": status,
                        "last_event": st["last"].isoformat() if st else None,
                        "days_since_last": (as_of - st["last"]).days if st else None,
                        "interest": prog.get("interest"), "invited_on": (st or {}).get("invited_on")})
    season = _season(tracked, as_of)
    store = FactStore()
    store.add(make_fact("context", ctx))
    store.add(make_fact("season", season))
    for t in tracked:
        store.add(make_fact("tracked", {k: v for k, v in t.items() if k != "invited_on"}))
    runtime = runtime_for(ps)
    firings: list[Firing] = []
    for stage in ps.stages:
        runtime.run_stage(stage.name, store, firings, firing_bound(len(store.facts)))
    result = _report(ps, req, ctx, season, tracked, firings, store, review_from, pace_points,
                     season_src, target_src, events, as_of)
    if cycle_choice:
        result["cycle_choice"] = cycle_choice
    return result


def _check_options(req: TrackRequest) -> None:
    """--specialty and --cycle follow the profile's patterns (they are printed and matched by rules);
    dates stay within MIN_DATE..MAX_DATE."""
    props = load_schema("profile")["properties"]
    problems = []
    for key, value in (("specialty", req.specialty), ("cycle", req.cycle)):
        if value is not None and (len(value) > props[key].get("maxLength", 64)
                                  or not re.fullmatch(props[key]["pattern"].rstrip("$"), value)):
            problems.append(Problem("command line", None, f"--{key}", f"got {_short(value)}; expected text matching "
                                    f"{props[key]['pattern']}"))
    for flag, day in (("--as-of", req.as_of), ("--review-from", req.review_from)):
        if day is not None and not MIN_DATE <= day <= MAX_DATE:
            problems.append(Problem("command line", None, flag, f"got {day}; expected a date between {MIN_DATE} "
                                    f"and {MAX_DATE}"))
    if problems:
        raise InputError(problems)


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:58] + "…'"


def _ref(value: Any) -> SourceRef:
    return SourceRef(value) if isinstance(value, str) else SourceRef(value["ref"], value.get("at"))


def _season(tracked: list[dict[str, Any]], as_of: date) -> dict[str, Any]:
    count = Counter(t["status"] for t in tracked)
    sig = [t for t in tracked if t["signaled"]]
    unsig = [t for t in tracked if not t["signaled"]]
    sig_inv = sum(1 for t in sig if t["status"] == "invited")
    unsig_inv = sum(1 for t in unsig if t["status"] == "invited")
    return {
        "as_of": as_of.isoformat(), "applied": len(tracked), "signaled": len(sig), "unsignaled": len(unsig),
        "invites": count["invited"], "interviews": count["invited"], "rejections": count["rejected"],
        "waitlists": count["waitlisted"], "withdrawals": count["withdrawn"], "silent": count["silent"],
        "silent_signaled": sum(1 for t in sig if t["status"] == "silent"),
        "signaled_invited": sig_inv, "unsignaled_invited": unsig_inv,
        "signaled_responded": sum(1 for t in sig if t["status"] != "silent"),
        "signaled_rate": round(sig_inv / len(sig), 4) if sig else 0.0,
        "unsignaled_rate": round(unsig_inv / len(unsig), 4) if unsig else 0.0,
    }


def _invited_by(tracked: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    """Programs and invitations grouped by one field (signal tier or fit), sorted by that field."""
    out: dict[str, dict[str, int]] = {}
    for t in tracked:
        row = out.setdefault(t[key], {"programs": 0, "invited": 0})
        row["programs"] += 1
        row["invited"] += t["status"] == "invited"
    return dict(sorted(out.items()))


def _report(ps: PolicySet, req: TrackRequest, ctx: dict[str, Any], season: dict[str, Any],
            tracked: list[dict[str, Any]], firings: list[Firing], store: FactStore, review_from: date | None,
            pace_points: list[dict[str, Any]], season_src: str | None, target_src: str | None,
            events: list[Event], as_of: date) -> dict[str, Any]:
    findings, advice = [], []
    for f in firings:
        matched = {alias: store.get(fid) for alias, fid in f.matched.items()}
        entry = {"rule": f.rule.id, "policy": f.rule.policy, "text": " ".join(f.text.split()),
                 "advice": " ".join(render(f.rule.advice or "", matched).split()),
                 "source": source_text(ps, f.rule.policy, f.rule.source)}
        for item in f.findings:
            findings.append({"level": item["level"], **entry})
        for fid in f.outputs:
            fact = store.get(fid)
            if fact["t"] == "advice":
                advice.append({"program": fact["program"], "kind": fact["kind"], **entry})
    order = {"critical": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda x: (order[x["level"]], x["rule"]))
    advice.sort(key=lambda x: (x["program"], x["rule"]))
    by_tier, by_fit = _invited_by(tracked, "tier"), _invited_by(tracked, "fit")
    timeline = []
    if review_from is not None:
        invites = sorted(date.fromisoformat(str(t["invited_on"])) if not isinstance(t["invited_on"], date)
                         else t["invited_on"] for t in tracked if t["invited_on"])
        day = review_from
        last = min(as_of, review_from + timedelta(days=MAX_SEASON_DAYS))
        while day <= last:
            n = sum(1 for d in invites if d <= day)
            share = _pace_share(pace_points, (day - review_from).days) if pace_points else None
            expected = round(ctx["target_min"] * share, 1) if share is not None and "target_min" in ctx else None
            timeline.append({"date": day.isoformat(), "invites": n, "expected": expected})
            day += timedelta(days=7)
    return {
        "report_version": "1.0", "kind": "tracking", "as_of": as_of.isoformat(),
        "specialty": ctx["specialty"], "cycle": ctx["cycle"], "applicant_tier": ctx["applicant_tier"],
        "season": season,
        "pace": {"review_from": ctx.get("review_from"), "review_from_source": season_src,
                 "days_since_review": ctx.get("days_since_review"), "expected_share": ctx.get("expected_share"),
                 "target_min": ctx.get("target_min"), "target_max": ctx.get("target_max"),
                 "target_source": target_src, "expected_by_now": ctx.get("expected_by_now"),
                 "status": next((f["status"] for f in store.of_type("pace_status")), "unknown"),
                 "phase": _phase(ctx.get("days_since_review"), pace_points),
                 "season_days": max((int(p["day"]) for p in pace_points), default=None) if pace_points else None},
        "by_signal_tier": by_tier, "by_fit": by_fit,
        "silent_signaled": [t["id"] for t in tracked if t["signaled"] and t["status"] == "silent"],
        "programs": [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in t.items()} for t in tracked],
        "findings": findings, "advice": advice, "timeline": timeline,
        "events_used": sum(1 for e in events if e.day <= as_of),
        "events_after_as_of": sum(1 for e in events if e.day > as_of),
        "policies": [{"id": p.id, "version": p.version, "sha256": p.sha256} for p in ps.policies],
    }


def _phase(days: int | None, pace_points: Any) -> str:
    """before-review, in-season or after-season (the last pace point: offers usually all sent), or unknown."""
    if days is None:
        return "unknown"
    if days < 0:
        return "before-review"
    last = max((int(p["day"]) for p in pace_points), default=None) if pace_points else None
    return "after-season" if last is not None and days > last else "in-season"
