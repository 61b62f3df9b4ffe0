#!/usr/bin/env python3
"""Build a git repository of many commits with `git fast-import`, for the scale benchmark (a monorepo's history).

  make_commits.py --repo DIR --commits N [--files 20000] [--seed 1]

Each commit changes one small file (a line appended to a few hundred bytes of text) among --files files in 200
directories; every 97th commit also renames a file, and every 1,000th commit is the merge of a side branch of
three commits. One FAKE key is planted in a file that a later commit deletes again. Prints a JSON line with the
counts, the planted key and the commit that added it.
"""

import argparse
import json
import os
import random
import subprocess
import sys


def fake_key(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "sk-proj-" + "".join(rng.choice(alphabet) for _ in range(48))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--commits", type=int, required=True)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.path.exists(args.repo):
        sys.exit(f"make_commits.py: {args.repo} exists: refusing to touch it")
    rng = random.Random(args.seed)
    subprocess.run(["git", "init", "-q", "--bare", args.repo], check=True)
    env = dict(os.environ, GIT_DIR=args.repo)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE, env=env)
    out = proc.stdin
    paths = [f"src/d{i % 200:03}/f{i:06}.txt" for i in range(args.files)]
    versions = [0] * args.files
    renamed = 0
    key = fake_key(rng)
    planted_at = args.commits // 3
    made = 0
    merges = 0

    def commit(ref, message, changes, parents=()):
        nonlocal made
        made += 1
        out.write(b"commit %s\nmark :%d\n" % (ref.encode(), made))
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % (1_600_000_000 + made * 60))
        data = message.encode()
        out.write(b"data %d\n%s\n" % (len(data), data))
        for i, parent in enumerate(parents):
            out.write(b"%s :%d\n" % (b"from" if i == 0 else b"merge", parent))
        for change in changes:
            out.write(change)
        out.write(b"\n")
        return made

    def modify(path, text):
        data = text.encode()
        return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)

    # The first commit writes every file.
    head = commit("refs/heads/main", "initial import", [modify(p, f"{p}\n" * 8) for p in paths])
    while made < args.commits:
        if made == planted_at:
            head = commit("refs/heads/main", "add settings", [modify("config/.env", f"OPENAI_API_KEY={key}\n")],
                          (head,))
            planted_commit = made
            continue
        if made == planted_at + 5:
            head = commit("refs/heads/main", "remove settings", [b"D config/.env\n"], (head,))
            continue
        if made % 1000 == 999 and made + 4 <= args.commits:
            side = head
            for n in range(3):
                i = rng.randrange(args.files)
                versions[i] += 1
                side = commit("refs/heads/side", f"side change {n}",
                              [modify(paths[i], f"{paths[i]}\n" * 8 + f"side {versions[i]}\n")], (side,))
            head = commit("refs/heads/main", "merge side", [], (head, side))
            merges += 1
            continue
        i = rng.randrange(args.files)
        versions[i] += 1
        changes = [modify(paths[i], f"{paths[i]}\n" * 8 + f"version {versions[i]}\n")]
        if made % 97 == 0:
            j = rng.randrange(args.files)
            new = paths[j].replace(".txt", f".r{renamed}.txt")
            changes.append(b'R "%s" "%s"\n' % (paths[j].encode(), new.encode()))
            paths[j] = new
            renamed += 1
        head = commit("refs/heads/main", f"change {made}", changes, (head,))
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "--git-dir", args.repo, "branch", "-D", "side"], check=False, capture_output=True)
    print(json.dumps({"commits": made, "files": args.files, "renames": renamed, "merges": merges,
                      "planted": [{"key": key, "path": "config/.env"}], "planted_count": 1,
                      "planted_commit_index": planted_commit}))


if __name__ == "__main__":
    main()
