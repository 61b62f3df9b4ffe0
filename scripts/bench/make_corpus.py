#!/usr/bin/env python3
"""Build the keyhound benchmark corpus.

The corpus is a tree of real source files: copies of the crate sources that
cargo unpacked under ~/.cargo/registry/src (or, when that is empty, the
.crate archives in ~/.cargo/registry/cache, unpacked here).  The sources are
copied as many times as needed to reach --size-mb, each copy in its own
subtree (copy-00, copy-01, ...).  Every file of copy N >= 1 gets a one-line
trailer so that no file of one copy is byte-identical to its twin in another
copy: scanners that skip already-seen blobs (Kingfisher dedups by content
hash) must still read the whole corpus.

A handful of FAKE OpenAI-style keys (random, from `secrets`) are written as
`OPENAI_API_KEY=<key>` lines into existing text files.  The metadata (size,
file count, planted keys and where they are) goes to --meta as JSON.

The tree is built in DEST.tmp and renamed to DEST at the end, so an
interrupted build never leaves a half corpus behind.
"""

import argparse
import glob
import json
import os
import random
import secrets
import shutil
import string
import sys
import tarfile
import time

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"

# (prefix, body length before/after the T3BlbkFJ marker, alphabet)
KEY_KINDS = [
    ("sk-proj-", 74, URLSAFE),
    ("sk-", 20, ALNUM),  # legacy user key
    ("sk-admin-", 58, URLSAFE),
    ("sk-svcacct-", 74, URLSAFE),
]

COMMENT = {
    ".rs": "// ", ".c": "// ", ".h": "// ", ".js": "// ", ".go": "// ",
    ".toml": "# ", ".py": "# ", ".sh": "# ", ".yml": "# ", ".yaml": "# ",
    ".md": "", ".txt": "",
}
# how many planted keys go into each kind of file, in turn
PLANT_EXTS = [".rs", ".toml", ".rs", ".md", ".rs", ".py", ".rs", ".yml", ".c", ".txt"]
AVOID = ("test", "vendor", "example", "fixture", "bench", "third_party",
         "generated", "testdata", "node_modules", "/.", "target/")


def rand_part(n, alphabet):
    """n random chars; first and last alphanumeric so word boundaries hold."""
    if n < 2:
        return "".join(secrets.choice(ALNUM) for _ in range(n))
    mid = "".join(secrets.choice(alphabet) for _ in range(n - 2))
    return secrets.choice(ALNUM) + mid + secrets.choice(ALNUM)


def make_key(i):
    prefix, n, alphabet = KEY_KINDS[i % len(KEY_KINDS)]
    return prefix + rand_part(n, alphabet) + "T3BlbkFJ" + rand_part(n, alphabet)


def find_sources(home, workdir):
    """Directories of unpacked crate sources (unpacking .crate files if needed)."""
    srcs = sorted(d for d in glob.glob(os.path.join(home, ".cargo/registry/src/*")) if os.path.isdir(d))
    total = sum(tree_size(d)[0] for d in srcs)
    if total >= 50 * 2**20:
        return srcs
    crates = sorted(glob.glob(os.path.join(home, ".cargo/registry/cache/*/*.crate")))
    if not crates:
        if srcs:
            return srcs
        sys.exit("make_corpus: no crate sources under ~/.cargo/registry (run `cargo fetch` or `cargo build` first)")
    out = os.path.join(workdir, "crate-src")
    os.makedirs(out, exist_ok=True)
    print(f"make_corpus: unpacking {len(crates)} .crate files into {out}", flush=True)
    for c in crates:
        name = os.path.basename(c)[: -len(".crate")]
        if os.path.isdir(os.path.join(out, name)):
            continue
        with tarfile.open(c) as t:
            t.extractall(out, filter="data")
    return srcs + [out]


def tree_size(root):
    size = files = 0
    for dp, dns, fns in os.walk(root):
        dns[:] = [d for d in dns if d != ".git"]
        for f in fns:
            p = os.path.join(dp, f)
            if os.path.isfile(p) and not os.path.islink(p):
                size += os.path.getsize(p)
                files += 1
    return size, files


def list_crates(srcs):
    """(crate dir name, absolute path) for every crate, in a stable order."""
    seen, out = set(), []
    for s in srcs:
        for name in sorted(os.listdir(s)):
            p = os.path.join(s, name)
            if os.path.isdir(p) and name not in seen:
                seen.add(name)
                out.append((name, p))
    return out


def copy_crate(src, dst, trailer):
    """Copy one crate tree; returns (bytes, files). Skips .git and symlinks."""
    size = files = 0
    for dp, dns, fns in os.walk(src):
        dns[:] = sorted(d for d in dns if d != ".git")
        rel = os.path.relpath(dp, src)
        outdir = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(outdir, exist_ok=True)
        for f in sorted(fns):
            sp = os.path.join(dp, f)
            if os.path.islink(sp) or not os.path.isfile(sp):
                continue
            op = os.path.join(outdir, f)
            shutil.copyfile(sp, op)
            if trailer:
                with open(op, "ab") as fh:
                    fh.write(trailer)
            size += os.path.getsize(op)
            files += 1
    return size, files


def candidates(root):
    """Text files fit for planting, grouped by extension."""
    by_ext = {}
    for dp, dns, fns in os.walk(root):
        dns.sort()
        for f in sorted(fns):
            p = os.path.join(dp, f)
            rel = os.path.relpath(p, root)
            low = "/" + rel.lower()
            ext = os.path.splitext(f)[1].lower()
            if ext not in COMMENT or any(a in low for a in AVOID):
                continue
            try:
                sz = os.path.getsize(p)
            except OSError:
                continue
            if 2048 <= sz <= 256 * 1024:
                by_ext.setdefault(ext, []).append(rel)
    return by_ext


def plant(root, nkeys, rng):
    by_ext = candidates(root)
    copies = sorted(d for d in os.listdir(root) if d.startswith("copy-"))
    planted, used = [], set()
    for i in range(nkeys):
        want = PLANT_EXTS[i % len(PLANT_EXTS)]
        copy = copies[i % len(copies)]
        pool = [r for r in by_ext.get(want, []) if r.startswith(copy + "/") and r not in used]
        if not pool:  # fall back to any .rs file anywhere
            pool = [r for r in by_ext.get(".rs", []) if r not in used]
        rel = rng.choice(pool)
        used.add(rel)
        ext = os.path.splitext(rel)[1].lower()
        key = make_key(i)
        path = os.path.join(root, rel)
        with open(path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        at = rng.randint(1, max(1, len(lines) - 1))  # between two existing lines
        line = f"{COMMENT[ext]}OPENAI_API_KEY={key}".encode()
        lines.insert(at, line)
        with open(path, "wb") as fh:
            fh.write(b"\n".join(lines))
        planted.append({"key": key, "kind": KEY_KINDS[i % len(KEY_KINDS)][0], "file": rel, "line": at + 1})
    return planted


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", required=True, help="corpus directory to create")
    ap.add_argument("--meta", required=True, help="JSON metadata file to write")
    ap.add_argument("--size-mb", type=int, default=550)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20240601, help="seed for file choice (keys always use secrets)")
    ap.add_argument("--workdir", default=None, help="scratch dir for unpacked .crate files")
    args = ap.parse_args()

    t0 = time.time()
    home = os.path.expanduser("~")
    workdir = args.workdir or os.path.dirname(os.path.abspath(args.dest))
    srcs = find_sources(home, workdir)
    crates = list_crates(srcs)
    if not crates:
        sys.exit("make_corpus: found no crate sources")
    target = args.size_mb * 2**20
    tmp = args.dest.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    size = files = 0
    copy = 0
    while size < target:
        cdir = os.path.join(tmp, f"copy-{copy:02d}")
        trailer = b"" if copy == 0 else f"\nbench copy {copy:02d}\n".encode()
        grew = 0
        for name, path in crates:
            if size >= target:
                break
            s, f = copy_crate(path, os.path.join(cdir, name), trailer)
            size += s
            files += f
            grew += s
        print(f"make_corpus: copy-{copy:02d} done, total {size / 2**20:.0f} MB in {files} files", flush=True)
        if grew == 0:
            sys.exit("make_corpus: sources are empty")
        copy += 1

    rng = random.Random(args.seed)
    planted = plant(tmp, args.keys, rng)
    size, files = tree_size(tmp)

    shutil.rmtree(args.dest, ignore_errors=True)
    os.rename(tmp, args.dest)
    meta = {
        "corpus": os.path.abspath(args.dest),
        "size_mb_requested": args.size_mb,
        "bytes": size,
        "files": files,
        "copies": copy,
        "sources": srcs,
        "crates": len(crates),
        "planted": planted,
        "planted_count": len(planted),
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
        "build_seconds": round(time.time() - t0, 1),
    }
    with open(args.meta, "w") as fh:
        json.dump(meta, fh, indent=2)
    print(f"make_corpus: {size / 2**20:.0f} MB, {files} files, {len(planted)} planted keys -> {args.dest}")


if __name__ == "__main__":
    main()
