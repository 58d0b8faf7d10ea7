#!/usr/bin/env python3
"""Print the results of the last `meson test` run as TAP, one line per test
case (the TAP lines of each test program), then "SVMGPU-COUNTS p f s".

    meson-tap.py MESON_BUILD_DIR
"""
import json
import re
import sys

TAP_RE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")


def main():
    log = f"{sys.argv[1]}/meson-logs/testlog.json"
    passed = failed = skipped = n = 0
    try:
        entries = [json.loads(l) for l in open(log) if l.strip()]
    except OSError:
        entries = []
    if not entries:
        print("not ok 1 - host: meson test ran no test")
        print("SVMGPU-COUNTS 0 1 0")
        return
    for e in entries:
        name = e["name"]
        cases = 0
        for line in (e.get("stdout") or e.get("stdo") or "").splitlines():
            m = TAP_RE.match(line)
            if not m:
                continue
            cases += 1
            n += 1
            desc = m.group(3)
            directive = ""
            if " # " in desc:
                desc, directive = desc.split(" # ", 1)
            ok = m.group(1) == "ok"
            if ok and directive.upper().startswith("SKIP"):
                skipped += 1
            elif ok:
                passed += 1
            else:
                failed += 1
            print(f"{m.group(1)} {n} - host: {name}.{desc.strip()}"
                  + (f" # {directive}" if directive else ""))
        result = e.get("result", "")
        stdo = (e.get("stdout") or e.get("stdo") or "").splitlines()
        if cases == 0 or (result not in ("OK", "SKIP", "EXPECTEDFAIL") and
                          not any(l.startswith("not ok") for l in stdo)):
            # no TAP at all, or a crash/timeout after its last test case
            n += 1
            if result == "OK":
                passed += 1
                print(f"ok {n} - host: {name}")
            elif result == "SKIP":
                skipped += 1
                print(f"ok {n} - host: {name} # SKIP")
            else:
                failed += 1
                print(f"not ok {n} - host: {name} ({result})")
    print(f"SVMGPU-COUNTS {passed} {failed} {skipped}")


if __name__ == "__main__":
    main()
