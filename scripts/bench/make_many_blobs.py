#!/usr/bin/env python3
"""Build a git repository of many small unique blobs with `git fast-import`, for measuring memory per blob.

  make_many_blobs.py --repo DIR --blobs N [--per-commit 10000]

Each commit adds one directory of --per-commit new files, each file a blob of its own (a line of text with its
number), so the repository holds N unique blobs in N / per-commit commits. No key is planted.
"""

import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--blobs", type=int, required=True)
    ap.add_argument("--per-commit", type=int, default=10_000)
    args = ap.parse_args()
    if os.path.exists(args.repo):
        sys.exit(f"make_many_blobs.py: {args.repo} exists: refusing to touch it")
    subprocess.run(["git", "init", "-q", "--bare", args.repo], check=True)
    env = dict(os.environ, GIT_DIR=args.repo)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env)
    out = proc.stdin
    mark, made, commit = 0, 0, 0
    while made < args.blobs:
        count = min(args.per_commit, args.blobs - made)
        first = mark + 1
        for i in range(count):
            mark += 1
            data = f"file {made + i} of the memory benchmark\n".encode()
            out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
        commit += 1
        message = f"add {count} files".encode()
        out.write(b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + commit))
        out.write(b"data %d\n" % len(message) + message + b"\n")
        for i in range(count):
            out.write(b"M 100644 :%d d%05d/f%06d.txt\n" % (first + i, commit, made + i))
        out.write(b"\n")
        made += count
    out.close()
    if proc.wait() != 0:
        sys.exit("make_many_blobs.py: git fast-import failed")
    print(f"make_many_blobs: {made} blobs in {commit} commits -> {args.repo}", file=sys.stderr)


if __name__ == "__main__":
    main()
