"""Deterministic, clearly fictional benchmark inputs: shortlists of N programs and cohorts of applicants.

Every program is named `Benchmark Fictional Program NNNNN (...)` with an invented place name and an id
prefixed `BENCH-`, so generated files can never be mistaken for real program data. The same seed always
gives byte-identical files.
"""

from __future__ import annotations

import random
from pathlib import Path

COLUMNS = ("id", "name", "state", "setting", "research_intensity", "img_share", "us_img_share",
           "alumni_from_my_school", "step2_min", "max_years_since_graduation", "requires_step3",
           "sponsors_visa", "accepts_signals", "location_desirability", "home", "rotated", "ties",
           "would_attend", "interest", "area_type", "institution")

STATES = (
    "AL", "AZ", "AR", "CA", "CO", "CT", "FL", "GA", "IL", "IN", "IA", "KS", "KY",
    "LA", "MA", "MD", "MI", "MN", "MS", "MO", "NE", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "SC", "TN", "TX", "UT", "VA", "WA", "WV", "WI",
)
_SYLLABLES = ("bran", "cor", "dell", "fen", "gar", "hol", "kes", "lor", "mar", "nor", "ost", "pell", "quin",
              "rav", "sel", "tor", "ulm", "vex", "wyn", "yar", "zel")
_SUFFIXES = ("more", "wick", "haven", "ford", "vale", "by", "mere", "ton")
REGIONS = ("northeast", "midwest", "south", "west", "new-england", "middle-atlantic", "east-north-central",
           "south-atlantic", "pacific", "mountain")
# (specialty, cycle) pairs used for cohorts; both have a bundled policy with known signal counts.
SPECIALTIES = (("internal-medicine", "eras-2026"), ("family-medicine", "eras-2026"))


def place(rng: random.Random) -> str:
    return (rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES) + rng.choice(_SUFFIXES)).capitalize()


def program_rows(n: int, seed: int = 0, specialty: str = "internal-medicine") -> list[dict[str, str]]:
    """`n` fictional programs with a realistic mix of university, affiliated and community programs."""
    rng = random.Random(f"programs:{seed}:{n}")
    label = specialty.replace("-", " ").title()
    rows = []
    institution = ""
    for i in range(1, n + 1):
        setting = rng.choices(("university", "university-affiliated", "community"), (3, 4, 4))[0]
        research = {"university": "high", "university-affiliated": "moderate", "community": "low"}[setting]
        img = {"university": rng.uniform(0, 0.15), "university-affiliated": rng.uniform(0.1, 0.5),
               "community": rng.uniform(0.4, 0.95)}[setting]
        us_img = img * rng.uniform(0.2, 0.7)
        if i == 1 or rng.random() < 0.8:  # most programs are their own institution; some share one
            institution = f"bench-inst-{i:05d}"
        ties = sorted(rng.sample(("geographic", "family", "rotation", "faculty", "research"),
                                 rng.choice((0, 0, 0, 1, 2))))
        rows.append({
            "id": f"BENCH-{i:05d}",
            "name": f"Benchmark Fictional Program {i:05d} ({place(rng)} {label})",
            "state": rng.choice(STATES),
            "setting": setting,
            "research_intensity": research,
            "img_share": f"{img:.2f}",
            "us_img_share": f"{us_img:.2f}",
            "alumni_from_my_school": str(rng.choice((0, 0, 1, 2, 3, 5))),
            "step2_min": str(rng.choice((215, 220, 225, 230, 240))) if rng.random() < 0.15 else "",
            "max_years_since_graduation": str(rng.choice((3, 5, 7))) if rng.random() < 0.1 else "",
            "requires_step3": "yes" if rng.random() < 0.05 else "no",
            "sponsors_visa": rng.choice(("yes", "yes", "no")),
            "accepts_signals": rng.choices(("yes", "no", "unknown"), (90, 5, 5))[0],
            "location_desirability": rng.choices(("high", "normal"), (2, 8))[0],
            "home": "no",
            "rotated": "yes" if "rotation" in ties else "no",
            "ties": ";".join(ties),
            "would_attend": rng.choices(("yes", "no"), (95, 5))[0],
            "interest": str(rng.randint(1, 5)),
            "area_type": rng.choice(("urban", "suburban", "rural")),
            "institution": institution,
        })
    return rows


RATE_COLUMNS = ("interview_rate_gold", "interview_rate_silver", "interview_rate_unsignaled")


def add_rates(rows: list[dict[str, str]], seed: int = 0) -> list[dict[str, str]]:
    """Invented per-program interview rates for a gold/silver shortlist (what `--strategy gain` optimises):
    a base rate without a signal and a lift per tier, varied by program; about one program in ten has no
    figure for a tier (an empty cell: an unknown rate)."""
    rng = random.Random(f"rates:{seed}:{len(rows)}")
    out = []
    for row in rows:
        base = rng.uniform(0.02, 0.2)
        silver = min(0.95, base + rng.uniform(0.02, 0.25))
        gold = min(0.98, silver + rng.uniform(0.0, 0.2))
        cells = {"interview_rate_gold": f"{gold:.2f}", "interview_rate_silver": f"{silver:.2f}",
                 "interview_rate_unsignaled": f"{base:.2f}"}
        if rng.random() < 0.1:
            cells[rng.choice(RATE_COLUMNS[:2])] = ""
        out.append({**row, **cells})
    return out


def programs_csv(rows: list[dict[str, str]]) -> str:
    columns = COLUMNS + tuple(c for c in RATE_COLUMNS if rows and c in rows[0])
    lines = [",".join(columns)]
    lines += [",".join(row[c] for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def profile_yaml(seed: int, specialty: str = "internal-medicine", cycle: str = "eras-2026") -> str:
    """One fictional applicant; the seed picks a strong, moderate or at-risk archetype and varies it."""
    rng = random.Random(f"profile:{seed}")
    match_year = int(cycle.rsplit("-", 1)[1])
    kind = rng.choices(("strong", "moderate", "at-risk"), (35, 40, 25))[0]
    strong, risky = kind == "strong", kind == "at-risk"
    n_flags = 1 if risky and rng.random() < 0.5 else 0
    flags = rng.sample(("exam-failure", "leave-of-absence", "large-gap"), n_flags)
    pref = rng.sample(REGIONS, rng.choice((0, 1, 2)))
    avoid = [r for r in rng.sample(REGIONS, rng.choice((0, 0, 1))) if r not in pref]

    def items(xs: list[str]) -> str:
        return "[" + ", ".join(xs) + "]"

    letters = ("strong" if strong else rng.choice(("good", "strong")) if not risky
               else rng.choice(("weak", "unknown")))
    step2 = rng.randint(240, 262) if strong else rng.randint(222, 242) if not risky else rng.randint(205, 228)
    return f"""# Fictional applicant generated by signalwise's benchmark suite (seed {seed}, {kind}).
# Not a real person.
specialty: {specialty}
cycle: {cycle}
applicant:
  graduate_type: {rng.choice(("us-img", "us-img", "us-img", "non-us-img", "us-md", "us-do"))}
  needs_visa: {str(risky and rng.random() < 0.4).lower()}
  graduation_year: {match_year - (rng.randint(1, 2) if not risky else rng.randint(1, 8))}
  exams:
    step1: {"fail-then-pass" if risky and rng.random() < 0.3 else "pass"}
    step2_ck: {step2}
    step2_attempts: {2 if risky and rng.random() < 0.3 else 1}
    step3: {rng.choice(("pass", "not-taken", "not-taken"))}
  usce:
    months: {rng.randint(3, 8) if not risky else rng.randint(0, 3)}
    months_in_specialty: {rng.randint(2, 4) if not risky else rng.randint(0, 2)}
    sub_internship: {str(strong or rng.random() < 0.4).lower()}
  letters:
    us_in_specialty: {rng.randint(2, 4) if not risky else rng.randint(0, 2)}
    strength: {letters}
  research:
    publications: {rng.choice((0, 1, 2, 5)) if strong else rng.choice((0, 0, 1))}
    posters: {rng.choice((0, 1, 2))}
  red_flags: {items(flags)}
  school:
    us_match_history: {rng.choice(("strong", "moderate")) if not risky else rng.choice(("weak", "unknown"))}
geography:
  must_have: []
  preferred: {items(pref)}
  avoid: {items(avoid)}
goals:
  setting: {rng.choice(("academic", "community", "any"))}
  interests: {items(rng.sample(["research", "teaching", "underserved", "rural"], rng.randint(0, 2)))}
"""


def write_applicant(folder: Path, seed: int, n_programs: int, specialty: str = "internal-medicine",
                    cycle: str = "eras-2026", *, rates: bool = False) -> None:
    """One applicant folder; `rates` adds per-program interview-rate columns (gold, silver, no signal)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(profile_yaml(seed, specialty, cycle), encoding="utf-8")
    rows = program_rows(n_programs, seed, specialty)
    (folder / "programs.csv").write_text(programs_csv(add_rates(rows, seed) if rates else rows),
                                         encoding="utf-8")


def write_cohort(root: Path, n_applicants: int, *, programs: tuple[int, ...] = (30, 40, 50, 60, 80),
                 seed: int = 0) -> list[Path]:
    """`n_applicants` folders `applicant-00001`..., each a fictional applicant with its own shortlist.

    Shortlist sizes cycle through `programs` (real shortlists are tens of programs); specialties
    alternate between internal medicine and family medicine (both ERAS 2026).
    """
    out = []
    for i in range(1, n_applicants + 1):
        specialty, cycle = SPECIALTIES[i % 3 == 0]
        folder = root / f"applicant-{i:05d}"
        write_applicant(folder, seed * 1_000_003 + i, programs[i % len(programs)], specialty, cycle)
        out.append(folder)
    return out
