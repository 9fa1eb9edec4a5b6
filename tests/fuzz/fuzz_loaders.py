"""Fuzz target for the input loaders (and, for what they accept, the whole CLI).

Mutation fuzzing from seeds (the bundled examples, a YAML shortlist, hostile snippets): each input is a
seed with a few random byte-level and token-level mutations, written to a temporary file and given to
`load_profile` / `load_programs`. The only acceptable outcomes are a value or an `InputError`; when both
files load, the CLI runs on them and must exit 0 or 2. Anything else is a crash: its input is saved
(with --save-crashes) and counted.

    python -m tests.fuzz.fuzz_loaders --iterations 100000 --seed 1 [--save-crashes DIR] [--cli-every 10]

With atheris installed (`pip install atheris`, needs clang), `--atheris` runs the same check under
libFuzzer's coverage-guided engine instead. CI runs a few hundred iterations (tests/test_properties.py).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from signalwise.engine.errors import InputError
from signalwise.engine.load.inputs import load_profile, load_programs

from ..reliability_support import invoke_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

TOKENS = [b":", b": ", b"- ", b"[", b"]", b"{", b"}", b",", b"\"", b"'", b"\n", b"\r\n", b"\t", b"  ", b"#",
          b"&a ", b"*a", b"<<: *a", b"!!python/object:os.system ", b"!!binary ", b"!!set ", b"? ", b"---\n",
          b"...\n", b"|\n", b">\n", b"%YAML 1.1\n", b"~", b"null", b"yes", b"no", b"true", b".nan", b".inf",
          b"1e999", b"0x1F", b"0o17", b"012", b"4:02", b"1_000", b"-", b"=", b"+", b"@", b"=SUM(A1)",
          b";",
          b"\x00", b"\xef\xbb\xbf", b"\xff", b"\xe9", b"\xc3", b"\xf0\x9f\x98\x80", b"\\", b"%",
          b"9" * 5000,
          b"[" * 200, b"{a: " * 100, b"x" * 20000, b"SIM-01", b"home_program: SIM-01\n", b"step2_ck",
          b"img_share"]


def seeds() -> dict[str, list[bytes]]:
    profiles = [p.read_bytes() for p in sorted(EXAMPLES.glob("*/profile.yaml"))]
    shortlists = [p.read_bytes() for p in sorted(EXAMPLES.glob("*/programs.csv"))]
    yaml_shortlist = (b"- {id: Y-1, name: Fictional Yarrow, state: OH, setting: community, img_share: 0.6}\n"
                      b"- {id: Y-2, name: Fictional Quill, state: CA, setting: university, ties: [family]}\n")
    hostile = [b'a: &a ["l","l","l"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nd: [*c,*c,*c]\n', b"x: &x [*x]\n"]
    return {"profile": profiles + hostile, "csv": shortlists, "yaml": [yaml_shortlist] + hostile}


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
        op = rng.randrange(7)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert a token
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and buf:  # delete a range
            buf[pos:pos + rng.randint(1, 40)] = b""
        elif op == 3 and buf:  # duplicate a line-ish range
            end = min(len(buf), pos + rng.randint(1, 200))
            buf[end:end] = buf[pos:end]
        elif op == 4:  # splice with another seed
            other = rng.choice(pool)
            cut = rng.randint(0, len(other))
            buf = buf[:pos] + bytearray(other[cut:cut + rng.randint(0, 400)])
        elif op == 5 and buf:  # replace a byte with an interesting one
            buf[rng.randrange(len(buf))] = rng.choice(b"\x00\n\r\t\"',:-[]{}=+@;#&*!%|>")
        elif op == 6:  # change a number
            digits = [i for i, b in enumerate(buf) if 48 <= b <= 57]
            if digits:
                i = rng.choice(digits)
                buf[i:i + 1] = str(rng.choice([0, 9, 400, -1, 10**6, 2031])).encode()
    return bytes(buf)


def check_one(profile: bytes, programs: bytes, programs_name: str, run_cli: bool) -> str:
    """Return 'accepted' (both loaded), 'refused' (an InputError) or raise on a crash.

    The whole CLI runs on every accepted pair (that is where the engine sees odd but valid input), and
    on refused ones too when `run_cli`."""
    with tempfile.TemporaryDirectory() as tmp:
        p_path, s_path = Path(tmp) / "profile.yaml", Path(tmp) / programs_name
        p_path.write_bytes(profile)
        s_path.write_bytes(programs)
        outcome = "accepted"
        for loader, path in ((load_profile, p_path), (load_programs, s_path)):
            try:
                loader(path)
            except InputError as exc:
                if not exc.problems or "Traceback" in str(exc):
                    raise AssertionError(f"empty or traceback-bearing InputError: {exc!r}") from None
                outcome = "refused"
        if run_cli or outcome == "accepted":
            result = invoke_cli("evaluate", "--profile", str(p_path), "--programs", str(s_path),
                                "--format", "json")
            if result.exit_code not in (0, 2) or "Traceback" in result.output:
                raise AssertionError(f"CLI exit {result.exit_code}: {result.output[-1500:]}")
        return outcome


def run_fuzz(iterations: int, seed: int, save_crashes: Path | None = None, cli_every: int = 10,
             progress: bool = False) -> dict[str, Any]:
    """Fuzz `iterations` inputs; return counts (accepted, refused, crashes, cli_runs, seconds)."""
    rng = random.Random(seed)
    pool = seeds()
    everything = [s for group in pool.values() for s in group]
    stats: Counter[str] = Counter()
    start = time.monotonic()
    for i in range(iterations):
        kind = rng.choice(["csv", "csv", "yaml"])
        profile = rng.choice(pool["profile"])
        programs = rng.choice(pool[kind])
        target = rng.randrange(4)  # mutate the profile, the shortlist, both, or neither (then a light touch)
        if target in (0, 2):
            profile = mutate(profile, rng, everything)
        if target in (1, 2):
            programs = mutate(programs, rng, everything)
        if target == 3:  # splice only within the same file: valid-looking input that reaches the engine
            if rng.random() < 0.5:
                programs = mutate(programs, rng, [programs])
            else:
                profile = mutate(profile, rng, [profile])
        name = "programs.csv" if kind == "csv" else "programs.yaml"
        try:
            outcome = check_one(profile, programs, name, run_cli=cli_every > 0 and i % cli_every == 0)
            stats[outcome] += 1
            if outcome == "accepted" or (cli_every > 0 and i % cli_every == 0):
                stats["cli_runs"] += 1
        except Exception as exc:  # a crash: anything but a value or an InputError
            stats["crashes"] += 1
            if save_crashes is not None:
                save_crashes.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256(profile + b"\0" + programs).hexdigest()[:16]
                (save_crashes / f"{digest}.profile.yaml").write_bytes(profile)
                (save_crashes / f"{digest}.{name}").write_bytes(programs)
                error = f"{type(exc).__name__}: {exc}\n"
                (save_crashes / f"{digest}.error.txt").write_text(error, encoding="utf-8")
        if progress and (i + 1) % 1000 == 0:
            elapsed = time.monotonic() - start
            print(f"{i + 1:,} inputs, {stats['crashes']} crashes, {elapsed:.0f}s", flush=True)
    out: dict[str, Any] = {"iterations": iterations, "accepted": stats["accepted"],
                           "refused": stats["refused"], "crashes": stats["crashes"],
                           "cli_runs": stats["cli_runs"], "seconds": round(time.monotonic() - start, 1)}
    return out


def _atheris(argv: list[str]) -> None:  # pragma: no cover - optional engine
    import atheris

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        split = fdp.ConsumeIntInRange(0, len(data))
        as_yaml = fdp.ConsumeBool()
        rest = fdp.ConsumeBytes(len(data))
        check_one(rest[:split], rest[split:], "programs.yaml" if as_yaml else "programs.csv", run_cli=False)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cli-every", type=int, default=10,
                        help="also run the whole CLI on every Nth refused input (0: only on accepted ones)")
    parser.add_argument("--save-crashes", type=Path, default=None)
    parser.add_argument("--atheris", action="store_true", help="use atheris (libFuzzer) if installed")
    args, rest = parser.parse_known_args(argv)
    if args.atheris:
        _atheris([sys.argv[0], *rest])
        return 0
    stats = run_fuzz(args.iterations, args.seed, args.save_crashes, args.cli_every, progress=True)
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    return 1 if stats["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
