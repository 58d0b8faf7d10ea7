"""The host tests' runner: register scenarios with @case, run them with
main(), one TAP line each.  A scenario returns True when it holds; one that
raises fails (a crash of the tool under test is a failure too)."""
import sys

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def main():
    print("TAP version 13")
    print(f"1..{len(CASES)}")
    failed = 0
    for i, fn in enumerate(CASES, 1):
        try:
            ok = bool(fn())
        except Exception as e:  # pylint: disable=broad-except
            print(f"# {fn.__name__}: {e!r}")
            ok = False
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {i} {fn.__name__}")
    sys.exit(1 if failed else 0)
