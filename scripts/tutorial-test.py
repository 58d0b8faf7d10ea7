#!/usr/bin/env python3
"""Run docs/tutorial.md's commands and compare their output with the text
the tutorial shows (make tutorial-test; a stage of make check).

The tutorial marks what it runs with the info string of its code blocks:

  ```sh host        run on the host, from the top of the checkout, with bash
  ```sh guest       typed in a guest booted with make run SHARE=examples/out-of-tree:
                    all guest blocks run in order in ONE boot (make exec), in
                    one shell, so variables carry from one block to the next
  ```text expected  what the block just before prints (stdout and stderr)

In an expected block a line "..." stands for any number of lines and "[...]"
for any text within a line; everything else must match exactly.  A block
without an expected block must only succeed.  One TAP line per block.

  tutorial-test.py TUTORIAL.md KERNEL
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(path):
    """[(kind, text, expected-or-None, line)] from the marked code blocks."""
    out = []
    lines = open(path).read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^```(\S+)(?:\s+(\S+))?\s*$', lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        j = start
        while j < len(lines) and lines[j] != '```':
            j += 1
        body = '\n'.join(lines[start:j])
        info = (m.group(1), m.group(2))
        if info == ('sh', 'host') or info == ('sh', 'guest'):
            out.append([info[1], body, None, start])
        elif info == ('text', 'expected'):
            if not out or out[-1][2] is not None or out[-1][3] > start:
                sys.exit('%s:%d: an expected block with no command block before it'
                         % (path, start))
            out[-1][2] = body
        i = j + 1
    return out


def line_re(pattern):
    parts = pattern.split('[...]')
    return re.compile('^' + '.*'.join(re.escape(p) for p in parts) + '$')


def matches(expected, actual):
    """Does the actual output (a list of lines) match the expected block?"""
    pats = expected.split('\n')

    def m(pi, ai):
        if pi == len(pats):
            return ai == len(actual)
        if pats[pi] == '...':
            return any(m(pi + 1, k) for k in range(ai, len(actual) + 1))
        return ai < len(actual) and line_re(pats[pi]).match(actual[ai]) and m(pi + 1, ai + 1)
    return m(0, 0)


FAILED = []


def report(n, ok, what, expected, actual, rc):
    if not ok:
        FAILED.append(n)
    print('%s %d - tutorial line %d: %s' % ('ok' if ok else 'not ok', n, what[1],
                                           what[0].split('\n')[0][:70]))
    if not ok:
        print('# exit status %s' % rc)
        if expected is not None:
            print('# expected:')
            for line in expected.split('\n'):
                print('#   ' + line)
        print('# got:')
        for line in actual:
            print('#   ' + line)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    tutorial, kernel = sys.argv[1], sys.argv[2]
    todo = blocks(tutorial)
    if not todo:
        sys.exit('%s: no marked blocks' % tutorial)
    print('TAP version 13')
    print('1..%d' % len(todo))
    env = dict(os.environ, KERNEL=kernel)
    env.pop('MAKEFLAGS', None)
    env.pop('MAKELEVEL', None)
    n = 0
    guest = [b for b in todo if b[0] == 'guest']
    for kind, text, expected, line in todo:
        if kind != 'host':
            continue
        n = todo.index([kind, text, expected, line]) + 1
        p = subprocess.run(['bash', '-c', text], cwd=TOP, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        actual = p.stdout.rstrip('\n').split('\n') if p.stdout.strip() else []
        ok = matches(expected, actual) if expected is not None else p.returncode == 0
        report(n, ok, (text, line), expected, actual, p.returncode)

    # The guest blocks: one script, one boot, in a copy of the example
    # directory (with the hello the host blocks built).
    share = tempfile.mkdtemp(prefix='svmgpu-tutorial.')
    try:
        shutil.copytree(os.path.join(TOP, 'examples', 'out-of-tree'), share, dirs_exist_ok=True)
        with open(os.path.join(share, 'tutorial.sh'), 'w') as f:
            for k, (kind, text, expected, line) in enumerate(guest):
                f.write('echo SVMGPU-STEP %d\n{\n%s\n} 2>&1\necho "SVMGPU-STEP-END %d $?"\n'
                        % (k, text, k))
        p = subprocess.run(['make', '-s', 'exec', 'SHARE=' + share, 'CMD=sh tutorial.sh',
                            'KERNEL=' + kernel], cwd=TOP, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    finally:
        shutil.rmtree(share, ignore_errors=True)
    results = os.path.join(os.environ.get('BUILD', os.path.join(TOP, 'build')),
                           'logs', 'exec-' + kernel, 'results.log')
    out = {}
    cur = None
    for raw in open(results, errors='replace').read().replace('\r', '').split('\n'):
        m = re.match(r'^SVMGPU-STEP (\d+)$', raw)
        e = re.match(r'^SVMGPU-STEP-END (\d+) (\d+)$', raw)
        if m:
            cur = int(m.group(1))
            out[cur] = ([], None)
        elif e and cur is not None:
            out[cur] = (out[cur][0], int(e.group(2)))
            cur = None
        elif cur is not None:
            out[cur][0].append(raw)
    for k, b in enumerate(guest):
        kind, text, expected, line = b
        n = todo.index(b) + 1
        actual, rc = out.get(k, (['(never ran: the guest boot failed)'] + p.stdout.split('\n')[-15:], None))
        if expected is not None:
            ok = rc is not None and matches(expected, actual)
        else:
            ok = rc == 0
        report(n, ok, (text, line), expected, actual, rc)
    sys.exit(1 if FAILED else 0)


main()
