#!/usr/bin/env python3
"""Host tests of scripts/test-manifest.py: a test gone from a program, a
new one, a duplicate name and a program no longer built each fail the
check, naming the test; update writes what check then accepts.  TAP."""
import os
import subprocess
import tempfile

from tap import case, main

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "scripts", "test-manifest.py")


def program(d, name, tests, crash=False):
    """A stand-in for a harness program: `-l` prints @tests (@crash: then
    dies of SIGSEGV)."""
    path = f"{d}/{name}"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n[ \"$1\" = -l ] || exit 1\n")
        f.write("".join(f"echo {t}\n" for t in tests))
        if crash:
            f.write("kill -SEGV $$\n")
    os.chmod(path, 0o755)
    return path


def run(mode, manifest, programs):
    res = subprocess.run(["python3", SCRIPT, mode, manifest] + programs,
                         capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout


def scenario(manifest_lines, built, crash=()):
    """check against a manifest of @manifest_lines, with @built programs
    ({name: [tests]}; those in @crash die on -l): (exit status, output)."""
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/manifest.txt", "w") as f:
            f.write("# comment\n" + "".join(l + "\n" for l in manifest_lines))
        progs = [program(d, n, t, n in crash) for n, t in built.items()]
        return run("check", f"{d}/manifest.txt", progs)


@case
def same_tests_pass():
    rc, out = scenario(["a t1", "a t2", "b u1"], {"a": ["t2", "t1"], "b": ["u1"]})
    return rc == 0 and "ok 1 - a: 2 tests" in out and "ok 2 - b: 1 tests" in out


@case
def deleted_test_fails_by_name():
    rc, out = scenario(["a t1", "a t2"], {"a": ["t1"]})
    # the TAP line names it: CI shows those lines, not the diagnostics
    return (rc == 1 and "not ok 1 - a: differs from manifest.txt: gone: t2" in out
            and "a: t2 is in the manifest but no longer" in out)


@case
def new_test_fails_until_the_manifest_has_it():
    rc, out = scenario(["a t1"], {"a": ["t1", "t9"]})
    return rc == 1 and "a: t9 is new" in out


@case
def duplicate_name_fails():
    rc, out = scenario(["a t1"], {"a": ["t1", "t1"]})
    return rc == 1 and "two tests are named t1" in out


@case
def program_no_longer_built_fails():
    rc, out = scenario(["a t1", "gone x", "gone y"], {"a": ["t1"]})
    return rc == 1 and "not ok 2 - gone: in the manifest, not built (2 tests gone)" in out


@case
def program_that_lists_nothing_fails():
    rc, out = scenario(["a t1"], {"a": []})
    return rc == 1 and "no test listed" in out


@case
def program_that_crashes_on_list_fails_alone():
    rc, out = scenario(["a t1", "b u1"], {"a": ["t1"], "b": ["u1"]}, crash=("a",))
    return (rc == 1 and "not ok 1 - a: -l: killed by SIGSEGV" in out
            and "ok 2 - b: 1 tests" in out)


@case
def update_refuses_with_a_broken_program():
    with tempfile.TemporaryDirectory() as d:
        progs = [program(d, "a", ["t1"], crash=True)]
        rc, _ = run("update", f"{d}/m.txt", progs)
        written = os.path.exists(f"{d}/m.txt")
    return rc == 1 and not written


@case
def update_refuses_a_program_with_two_tests_of_one_name():
    with tempfile.TemporaryDirectory() as d:
        rc, _ = run("update", f"{d}/m.txt", [program(d, "a", ["t1", "t1"])])
        written = os.path.exists(f"{d}/m.txt")
    return rc == 1 and not written


@case
def update_writes_what_check_accepts():
    with tempfile.TemporaryDirectory() as d:
        progs = [program(d, "b", ["u2", "u1"]), program(d, "a", ["t1"])]
        rc1, _ = run("update", f"{d}/m.txt", progs)
        lines = [l for l in open(f"{d}/m.txt").read().splitlines()
                 if not l.startswith("#")]
        rc2, out = run("check", f"{d}/m.txt", progs)
    return rc1 == 0 and lines == ["a t1", "b u1", "b u2"] and rc2 == 0 and "not ok" not in out


if __name__ == "__main__":
    main()
