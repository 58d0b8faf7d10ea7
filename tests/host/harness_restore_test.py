#!/usr/bin/env python3
"""Host tests of the C harness's svmgpu_test_restore_file(): a file a test
saved holds its old contents after the test passes, fails an ASSERT,
crashes or is killed at its timeout.  Runs the harness_restore program
(argument 1), one test at a time.  TAP."""
import os
import subprocess
import sys
import tempfile

from tap import case, main

PROGRAM = sys.argv[1]
ORIGINAL = "12\n"


def scenario(test):
    """Run @test alone on a file holding ORIGINAL: (its TAP result line,
    the file's contents afterwards)."""
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/setting"
        with open(path, "w") as f:
            f.write(ORIGINAL)
        env = dict(os.environ, SVMGPU_RESTORE_FILE=path)
        res = subprocess.run([PROGRAM, test], capture_output=True, text=True,
                             timeout=60, env=env)
        with open(path) as f:
            after = f.read()
    lines = [l for l in res.stdout.splitlines() if l.startswith(("ok ", "not ok "))]
    return (lines[0] if len(lines) == 1 else res.stdout), after


@case
def restored_after_pass():
    line, after = scenario("restored_after_pass")
    return line == "ok 1 restored_after_pass" and after == ORIGINAL


@case
def restored_after_failed_assert():
    line, after = scenario("restored_after_failed_assert")
    return line.startswith("not ok 1 ") and after == ORIGINAL


@case
def restored_after_crash():
    line, after = scenario("restored_after_crash")
    return line.startswith("not ok 1 ") and after == ORIGINAL


@case
def restored_after_timeout():
    line, after = scenario("restored_after_timeout")
    return line.startswith("not ok 1 ") and after == ORIGINAL


@case
def first_save_wins():
    line, after = scenario("first_save_wins")
    return line.startswith("ok 1 ") and after == ORIGINAL


@case
def rejected_saves_and_eight_kept():
    line, after = scenario("rejected_saves")
    return line.startswith("ok 1 ") and after == ORIGINAL


@case
def unsaved_change_stays():
    line, after = scenario("unsaved_change_stays")
    return line.startswith("ok 1 ") and after == "changed\n"


@case
def write_back_failure_fails_the_test():
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/setting"
        with open(path, "w") as f:
            f.write(ORIGINAL)
        env = dict(os.environ, SVMGPU_RESTORE_FILE=path)
        res = subprocess.run([PROGRAM, "write_back_failure_fails_the_test"],
                             capture_output=True, text=True, timeout=60, env=env)
    return (res.returncode == 1 and f"# restoring {path}: open: Is a directory" in res.stdout
            and "not ok 1 write_back_failure_fails_the_test" in res.stdout)


main()
