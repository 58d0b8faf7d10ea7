#!/usr/bin/env python3
"""Every test case of the harness programs, against tests/manifest.txt.

    test-manifest.py check MANIFEST PROGRAM...    TAP: a line per program
    test-manifest.py update MANIFEST PROGRAM...   rewrite MANIFEST

A test case that a commit deletes or renames by mistake leaves no failure
behind: its program just runs one test less.  The manifest lists each test
case ("program test_name", sorted) of every program built with
tests/harness/svmgpu_test.h, as each program's `-l` prints them; `meson test`
fails while the build and the manifest differ.  Adding, renaming or
removing a test on purpose: `make test-manifest` (meson's run target of
this script), and the manifest's diff shows it in the same commit.
"""
import os
import signal
import subprocess
import sys


def listed(programs):
    """({program: [test, ...]}, {program: why its -l failed}) from each
    program's -l."""
    out, broken = {}, {}
    for path in programs:
        name = os.path.basename(path)
        if name in out or name in broken:
            broken[name] = f"two programs are named {name}"
            continue
        try:
            res = subprocess.run([path, "-l"], capture_output=True, text=True,
                                 errors="replace", timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            broken[name] = f"-l: {e}"
            continue
        if res.returncode < 0:
            try:
                sig = signal.Signals(-res.returncode).name
            except ValueError:  # real-time signals have no name
                sig = f"signal {-res.returncode}"
            broken[name] = f"-l: killed by {sig}"
            continue
        if res.returncode != 0:
            broken[name] = f"-l: exit status {res.returncode}"
            continue
        tests = [t for t in res.stdout.splitlines() if t.strip()]
        dup = sorted({t for t in tests if tests.count(t) > 1})
        if not tests:
            broken[name] = "-l: no test listed"
        elif dup:
            broken[name] = "two tests are named " + ", ".join(dup)
        else:
            out[name] = tests
    return out, broken


def read_manifest(path):
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2:
                raise RuntimeError(f"{path}:{n}: not 'program test': {line!r}")
            out.setdefault(parts[0], []).append(parts[1])
    return out


HEADER = """\
# Every test case of the harness programs (scripts/test-manifest.py).
# `meson test` fails while a build lists other tests: after adding,
# renaming or removing a test, run `make test-manifest` and commit this.
"""


def update(manifest, built):
    lines = sorted(f"{p} {t}" for p, tests in built.items() for t in tests)
    with open(manifest, "w") as f:
        f.write(HEADER)
        f.write("".join(l + "\n" for l in lines))
    print(f"{manifest}: {len(lines)} tests of {len(built)} programs")


def names(what, tests):
    """"gone a, b" for a TAP line: CI shows those, not the # lines."""
    shown = ", ".join(tests[:6])
    more = f" and {len(tests) - 6} more" if len(tests) > 6 else ""
    return f"{what} {shown}{more}"


def check(manifest, built, broken):
    want = read_manifest(manifest)
    progs = sorted(set(want) | set(built) | set(broken))
    print("TAP version 13")
    print(f"1..{len(progs)}")
    bad = 0
    for i, name in enumerate(progs, 1):
        need = set(want.get(name, []))
        if name in broken:
            print(f"not ok {i} - {name}: {broken[name]}")
            bad += 1
            continue
        if name not in built:
            # built programs are given by meson; one it no longer builds
            print(f"not ok {i} - {name}: in the manifest, not built "
                  f"({len(need)} tests gone)")
            bad += 1
            continue
        have = set(built[name])
        missing = sorted(need - have)
        extra = sorted(have - need)
        if not (missing or extra):
            print(f"ok {i} - {name}: {len(have)} tests")
            continue
        bad += 1
        what = [names("gone:", missing)] if missing else []
        what += [names("new:", extra)] if extra else []
        print(f"not ok {i} - {name}: differs from {os.path.basename(manifest)}: "
              + "; ".join(what))
        for t in missing:
            print(f"# {name}: {t} is in the manifest but no longer in the program")
        for t in extra:
            print(f"# {name}: {t} is new: `make test-manifest` adds it")
    if bad:
        print("# a test deleted or renamed by mistake? if on purpose: make test-manifest")
    return 1 if bad else 0


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("check", "update"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    mode, manifest, programs = sys.argv[1], sys.argv[2], sys.argv[3:]
    built, broken = listed(programs)
    if mode == "check":
        try:
            return check(manifest, built, broken)
        except (OSError, RuntimeError, ValueError) as e:
            print("TAP version 13\n1..1")
            print(f"not ok 1 - test manifest: {e}")
            return 1
    if broken:
        for name, why in sorted(broken.items()):
            print(f"test-manifest.py: {name}: {why}", file=sys.stderr)
        print(f"test-manifest.py: {manifest} not written", file=sys.stderr)
        return 1
    try:
        update(manifest, built)
    except OSError as e:
        print(f"test-manifest.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
