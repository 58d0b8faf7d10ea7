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
import subprocess
import sys


def listed(programs):
    """{program: [test, ...]} from each program's -l."""
    out = {}
    for path in programs:
        name = os.path.basename(path)
        res = subprocess.run([path, "-l"], capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"{name} -l: exit status {res.returncode}")
        tests = [t for t in res.stdout.splitlines() if t.strip()]
        if not tests:
            raise RuntimeError(f"{name} -l: no test listed")
        out[name] = tests
    return out


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


def check(manifest, built):
    want = read_manifest(manifest)
    names = sorted(set(want) | set(built))
    print("TAP version 13")
    print(f"1..{len(names)}")
    bad = 0
    for i, name in enumerate(names, 1):
        have = set(built.get(name, []))
        need = set(want.get(name, []))
        if name not in built:
            # built programs are given by meson; one it no longer builds
            print(f"not ok {i} - {name}: in the manifest, not built "
                  f"({len(need)} tests gone)")
            bad += 1
            continue
        missing = sorted(need - have)
        extra = sorted(have - need)
        dup = sorted({t for t in built[name] if built[name].count(t) > 1})
        if not (missing or extra or dup):
            print(f"ok {i} - {name}: {len(have)} tests")
            continue
        bad += 1
        print(f"not ok {i} - {name}: the build differs from {os.path.basename(manifest)}")
        for t in missing:
            print(f"# {name}: {t} is in the manifest but no longer in the program")
        for t in extra:
            print(f"# {name}: {t} is new: `make test-manifest` adds it")
        for t in dup:
            print(f"# {name}: two tests are named {t}")
    if bad:
        print("# a test deleted or renamed by mistake? if on purpose: make test-manifest")
    return 1 if bad else 0


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("check", "update"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    mode, manifest, programs = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        built = listed(programs)
        if mode == "update":
            update(manifest, built)
            return 0
        return check(manifest, built)
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        if mode == "check":
            print("TAP version 13\n1..1")
            print(f"not ok 1 - test manifest: {e}")
            return 1
        print(f"test-manifest.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
