#!/usr/bin/env python3
"""Build the git-history corpus for the keyhound benchmark.

  make_history.py fetch --pkg PKG[,PKG...] --dl DIR [--max-versions N] [--jobs J]
  make_history.py build --pkg PKG[,PKG...] --dl DIR --repo DIR --meta FILE [--keys 5]

`fetch` downloads the released versions of npm packages with `npm pack`
(the ordinary client; many versions per call), plus their version lists and
publish times.  Already downloaded tarballs are kept.

`build` replays those versions into a fresh git repository with
`git fast-import`: each package in semver order (with several packages, each
under packages/<name>/, their timelines merged by publish time); for each
version, every file that changed since the previous version of that package
becomes its own commit (added, modified or deleted).  That gives a long,
realistic history of small diffs over real source text.

Fake OpenAI-style keys (random, from `secrets`) are planted as
`OPENAI_API_KEY=<key>` lines, each in its own commit spread over the history.
A planted line stays in its file in every later commit (it is re-applied when
the package updates the file) until an explicit removal commit; one of the
keys is removed that way, so it is only in the history, not at HEAD.
"""

import argparse
import json
import os
import random
import re
import secrets
import string
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
KINDS = [("sk-proj-", 74, URLSAFE), ("sk-", 20, ALNUM), ("sk-admin-", 58, URLSAFE), ("sk-svcacct-", 74, URLSAFE)]


def make_key(i):
    prefix, n, alpha = KINDS[i % len(KINDS)]

    def part():
        return secrets.choice(ALNUM) + "".join(secrets.choice(alpha) for _ in range(n - 2)) + secrets.choice(ALNUM)

    return prefix + part() + "T3BlbkFJ" + part()


def semver_key(v):
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)(.*)$", v)
    if not m:
        return (10**9, 0, 0, v)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4))


def tgz_name(pkg, version):
    # npm pack names: @types/node@1.2.3 -> types-node-1.2.3.tgz
    return pkg.lstrip("@").replace("/", "-") + "-" + version + ".tgz"


def npm_json(args):
    out = subprocess.run(["npm", *args, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def san(pkg):
    return pkg.lstrip("@").replace("/", "-")


def load_versions(a, pkg):
    """Released versions of pkg in semver order (last --max-versions of them), and publish times."""
    with open(os.path.join(a.dl, f"versions-{san(pkg)}.json")) as fh:
        info = json.load(fh)
    versions = [v for v in info["versions"] if "-" not in v]  # releases only
    versions.sort(key=semver_key)
    if a.max_versions:
        versions = versions[-a.max_versions:]
    return versions, info["time"]


def cmd_fetch(a):
    os.makedirs(a.dl, exist_ok=True)
    todo = []
    for pkg in a.pkgs:
        vfile = os.path.join(a.dl, f"versions-{san(pkg)}.json")
        if not os.path.exists(vfile):
            info = {"pkg": pkg, "versions": npm_json(["view", pkg, "versions"]), "time": npm_json(["view", pkg, "time"])}
            with open(vfile + ".tmp", "w") as fh:
                json.dump(info, fh)
            os.rename(vfile + ".tmp", vfile)
        versions, _ = load_versions(a, pkg)
        missing = [(pkg, v) for v in versions if not os.path.exists(os.path.join(a.dl, tgz_name(pkg, v)))]
        print(f"make_history: {len(versions)} versions of {pkg}, {len(missing)} to download", flush=True)
        todo += missing
    batches = [todo[i:i + a.batch] for i in range(0, len(todo), a.batch)]
    done = [0]

    def fetch(batch):
        specs = [f"{p}@{v}" for p, v in batch]
        r = subprocess.run(["npm", "pack", "--silent", "--pack-destination", a.dl, *specs],
                           capture_output=True, text=True)
        done[0] += len(batch)
        if r.returncode != 0:
            print(f"make_history: npm pack failed for {specs[0]}..{specs[-1]}: {r.stderr.strip()[-300:]}",
                  file=sys.stderr, flush=True)
        elif done[0] % 500 < a.batch or done[0] == len(todo):
            print(f"make_history: downloaded {done[0]}/{len(todo)}", flush=True)

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        list(ex.map(fetch, batches))
    left = [x for x in todo if not os.path.exists(os.path.join(a.dl, tgz_name(*x)))]
    if left:
        print(f"make_history: {len(left)} versions could not be downloaded (they are skipped)", file=sys.stderr)


def read_tgz(path):
    files = {}
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            if not m.isfile():
                continue
            name = m.name.split("/", 1)[1] if "/" in m.name else m.name
            files[name] = t.extractfile(m).read()
    return files


class FastImport:
    def __init__(self, repo):
        self.p = subprocess.Popen(["git", "-C", repo, "fast-import", "--quiet", "--done"],
                                  stdin=subprocess.PIPE)
        self.out = self.p.stdin
        self.mark = 0
        self.ncommits = 0

    def w(self, s):
        self.out.write(s if isinstance(s, bytes) else s.encode())

    def commit(self, when, msg, changes, author="Types Bot <bot@example.invalid>"):
        """changes: list of (path, bytes or None for delete)."""
        self.mark += 1
        ident = f"{author} {int(when)} +0000"
        m = msg.encode()
        self.w(f"commit refs/heads/main\nmark :{self.mark}\nauthor {ident}\ncommitter {ident}\n")
        self.w(f"data {len(m)}\n")
        self.w(m + b"\n")
        if self.ncommits:
            self.w(f"from :{self.mark - 1}\n")
        for path, data in changes:
            qp = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if data is None:
                self.w(f"D {qp}\n")
            else:
                self.w(f"M 100644 inline {qp}\ndata {len(data)}\n")
                self.w(data + b"\n")
        self.w("\n")
        self.ncommits += 1

    def close(self):
        self.w("done\n")
        self.out.close()
        if self.p.wait() != 0:
            sys.exit("make_history: git fast-import failed")


def parse_time(s):
    try:
        return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except Exception:
        return None


def cmd_build(a):
    # Versions of all packages, merged into one timeline: each package in semver
    # order, dated by the running maximum of its publish times.
    events = []
    for pi, pkg in enumerate(a.pkgs):
        versions, times = load_versions(a, pkg)
        mono = 0
        for v in versions:
            if not os.path.exists(os.path.join(a.dl, tgz_name(pkg, v))):
                continue
            mono = max(mono + 1, parse_time(times.get(v, "")) or 0)
            events.append((mono, pi, v))
    events.sort()
    if not events:
        sys.exit("make_history: no downloaded versions (run fetch first)")
    prefixes = [""] if len(a.pkgs) == 1 else [f"packages/{san(p)}/" for p in a.pkgs]

    def load(pi, v):
        files = read_tgz(os.path.join(a.dl, tgz_name(a.pkgs[pi], v)))
        return {prefixes[pi] + k: d for k, d in files.items()}

    tmp = a.repo.rstrip("/") + ".tmp"
    subprocess.run(["rm", "-rf", tmp], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", tmp], check=True)
    fi = FastImport(tmp)
    rng = random.Random(a.seed)
    t0 = time.time()

    # First pass: how many commits will there be? (to spread the planted keys)
    prevs = [{} for _ in a.pkgs]
    total = 0
    for _, pi, v in events:
        cur, prev = load(pi, v), prevs[pi]
        total += sum(1 for p in cur if prev.get(p) != cur[p]) + sum(1 for p in prev if p not in cur)
        prevs[pi] = cur
    print(f"make_history: {len(events)} versions of {', '.join(a.pkgs)} -> about {total} commits", flush=True)

    # planting schedule, by commit index
    nkeys = a.keys
    plant_at = sorted(int(total * (i + 1) / (nkeys + 1)) for i in range(nkeys))
    remove_idx = 1 if nkeys > 1 else 0  # which key gets removed later
    remove_at = min(total - 1, plant_at[remove_idx] + max(1, total // (2 * (nkeys + 1))))
    planted = []
    overlay = {}  # path -> list of lines to keep re-applying
    tree = {}
    ci = 0
    next_plant = 0

    def apply_overlay(path, data):
        extra = overlay.get(path)
        if not extra or data is None:
            return data
        return data.rstrip(b"\n") + b"\n" + b"\n".join(extra) + b"\n"

    prevs = [{} for _ in a.pkgs]
    for vi, (when, pi, v) in enumerate(events):
        pkg, prev = a.pkgs[pi], prevs[pi]
        cur = load(pi, v)
        changed = sorted(p for p in cur if prev.get(p) != cur[p]) + sorted(p for p in prev if p not in cur)
        for k, path in enumerate(changed):
            data = cur.get(path)
            data = apply_overlay(path, data)
            if data is None:
                overlay.pop(path, None)
                tree.pop(path, None)
                msg = f"{pkg} {v}: remove {path}"
            else:
                tree[path] = data
                msg = f"{pkg} {v}: {'add' if path not in prev else 'update'} {path}"
            fi.commit(when + k, msg, [(path, data)])
            ci += 1
            # planting / removal commits, interleaved
            while next_plant < nkeys and ci >= plant_at[next_plant]:
                key = make_key(next_plant)
                if next_plant % 2 == 0:
                    # a new config file of our own, never touched by the package
                    path_k = f"config/deploy-{next_plant}.env"
                    body = f"# deployment settings\nOPENAI_API_KEY={key}\nOPENAI_ORG=org-example\n".encode()
                    tree[path_k] = body
                    fi.commit(when + k, f"add deploy settings {next_plant}", [(path_k, body)])
                else:
                    # a line in one of the package's own text files
                    cands = sorted(p for p in tree if p.endswith((".ts", ".md", ".json")) and not p.startswith("config/"))
                    path_k = rng.choice(cands)
                    line = f"// OPENAI_API_KEY={key}" if path_k.endswith(".ts") else f"OPENAI_API_KEY={key}"
                    overlay.setdefault(path_k, []).append(line.encode())
                    base = tree[path_k]
                    extra = line.encode()
                    body = base.rstrip(b"\n") + b"\n" + extra + b"\n"
                    tree[path_k] = body
                    fi.commit(when + k, f"debug {path_k}", [(path_k, body)])
                planted.append({"key": key, "path": path_k, "commit_index": fi.ncommits, "removed_at": None})
                next_plant += 1
            if planted and len(planted) > remove_idx and planted[remove_idx]["removed_at"] is None and ci >= remove_at:
                pk = planted[remove_idx]
                path_k = pk["path"]
                line = next(l for l in overlay.get(path_k, [b""]) if pk["key"].encode() in l) if path_k in overlay else None
                if line is not None:
                    overlay[path_k].remove(line)
                    if not overlay[path_k]:
                        del overlay[path_k]
                    body = b"\n".join(l for l in tree[path_k].split(b"\n") if pk["key"].encode() not in l)
                    tree[path_k] = body
                    fi.commit(when + k, f"remove leaked key from {path_k}", [(path_k, body)])
                else:
                    tree.pop(path_k, None)
                    fi.commit(when + k, f"remove {path_k}", [(path_k, None)])
                pk["removed_at"] = fi.ncommits
        prevs[pi] = cur
        if vi % 500 == 0:
            print(f"make_history: version {vi + 1}/{len(events)} ({pkg} {v}), {fi.ncommits} commits, {time.time() - t0:.0f}s", flush=True)
    fi.close()
    ncommits = fi.ncommits
    print(f"make_history: {ncommits} commits written in {time.time() - t0:.0f}s; repacking", flush=True)
    subprocess.run(["git", "-C", tmp, "repack", "-a", "-d", "-q", f"--window={a.window}", "--depth=50"], check=True)
    subprocess.run(["git", "-C", tmp, "prune-packed"], check=True)
    subprocess.run(["git", "-C", tmp, "checkout", "-q", "-f", "main"], check=True)
    subprocess.run(["rm", "-rf", a.repo], check=True)
    os.rename(tmp, a.repo)
    pack = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(a.repo, ".git", "objects")) for f in fs)
    nobj = subprocess.run(["git", "-C", a.repo, "count-objects", "-v"], capture_output=True, text=True).stdout
    meta = {
        "repo": os.path.abspath(a.repo),
        "packages": a.pkgs,
        "versions": len(events),
        "versions_per_package": {p: sum(1 for e in events if e[1] == i) for i, p in enumerate(a.pkgs)},
        "commits": ncommits,
        "git_objects_bytes": pack,
        "count_objects": nobj,
        "planted": planted,
        "planted_count": len(planted),
        "planted_at_head": sum(1 for p in planted if p["removed_at"] is None),
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
        "build_seconds": round(time.time() - t0, 1),
    }
    with open(a.meta, "w") as fh:
        json.dump(meta, fh, indent=2)
    print(f"make_history: {ncommits} commits, .git objects {pack / 2**20:.0f} MB, {len(planted)} planted keys -> {a.repo}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("--pkg", default="@types/node,electron-to-chromium", help="npm package(s), comma-separated")
    f.add_argument("--dl", required=True)
    f.add_argument("--max-versions", type=int, default=0)
    f.add_argument("--batch", type=int, default=50)
    f.add_argument("--jobs", type=int, default=3)
    b = sub.add_parser("build")
    b.add_argument("--pkg", default="@types/node,electron-to-chromium", help="npm package(s), comma-separated")
    b.add_argument("--dl", required=True)
    b.add_argument("--repo", required=True)
    b.add_argument("--meta", required=True)
    b.add_argument("--keys", type=int, default=5)
    b.add_argument("--max-versions", type=int, default=0)
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--window", type=int, default=10)
    a = ap.parse_args()
    a.pkgs = [p for p in a.pkg.split(",") if p]
    {"fetch": cmd_fetch, "build": cmd_build}[a.cmd](a)


if __name__ == "__main__":
    main()
