#!/usr/bin/env python3
"""Precision benchmark: which OpenAI key shapes each scanner finds, and what it flags that is no key.

  precision.py build --dest DIR --meta META
      Build a small tree of FAKE keys (scripts/gen-fake-key.py) and hard negatives in DIR (deleted and
      rebuilt each time; refused if DIR exists and was not built by this script) and describe it in META.

  precision.py table --meta META --tools TSV --out MD [--command CMD] [--nonet TEXT]
      Read each tool's report and print the table (and write it as markdown to MD). TSV has one line per
      tool: name, status ("ok" or why not), version, report path, command line (tab-separated).

The tree:
  positives/<shape>/key-N.env   OPENAI_API_KEY=<key>, 5 keys per shape (one file each)
  contexts/<shape>-json.json    {"key": "<key>"}
  contexts/<shape>-pair.txt     key:<k1>,<k2>
  contexts/<shape>-url.txt      https://example.com/search?q=%20<key>
  negatives/<name>.txt          one line that holds no OpenAI key (placeholders, other vendors' keys, ...)
  other-provider/<provider>-N.*  a fake key of another provider: Anthropic (ANTHROPIC_API_KEY=), and the
                                `sk-` shapes of Moonshot (sk- + 48, next to api.moonshot.cn) and DeepSeek
                                (sk- + 32 hex, next to api.deepseek.com): real findings of another provider,
                                counted on their own rows, with how many an OpenAI rule claims

Counting: a planted key is found when a finding's secret/match (not merely its context line) contains the
whole key, whatever the rule. A negative file is a false positive for a tool when the tool reports any
finding in it; the second row counts only findings of OpenAI rules (rule id or name containing "openai").
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys

from count import load_json_or_lines  # scripts/bench/count.py, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "gen-fake-key.py")
SHAPES = ["legacy", "project", "project-48", "project-2020", "svcacct", "svcacct-46", "svcacct-named",
          "admin", "none", "none-48"]
PER_SHAPE = 5
MARKER = "T3BlbkFJ"
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
CONTEXTS = [  # (name, file suffix, template, number of keys)
    ("json", "json", '{{"key": "{0}"}}\n', 1),
    ("pair", "txt", "key:{0},{1}\n", 2),
    ("url", "txt", "https://example.com/search?q=%20{0}\n", 1),
]
CONTEXT_LABEL = {"json": '`"key": "<key>"`', "pair": "`key:<k1>,<k2>`", "url": "`?q=%20<key>`"}


def gen(shape, n, seed):
    out = subprocess.run([sys.executable, GEN, shape, str(n), "--seed", str(seed)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert len(out) == n, (shape, out)
    return out


def negatives(rng):
    """(name, what it is, file content) of each hard negative."""
    def r(alphabet, n):
        return "".join(rng.choice(alphabet) for _ in range(n))

    legacy = "sk-" + r(ALNUM, 20) + MARKER + r(ALNUM, 20)
    project = "sk-proj-" + r(URLSAFE, 74) + MARKER + r(URLSAFE, 74)
    moonshot = "sk-" + r(ALNUM, 48)
    assert MARKER not in moonshot
    return [
        ("placeholder-ellipsis", "placeholder `sk-...`", "OPENAI_API_KEY=sk-...\n"),
        ("placeholder-x48", "placeholder `sk-` + 48 x", "OPENAI_API_KEY=sk-" + "x" * 48 + "\n"),
        ("placeholder-your-key", "placeholder `sk-your-api-key-here`", "OPENAI_API_KEY=sk-your-api-key-here\n"),
        ("placeholder-angle", "placeholder `sk-<key>`", "OPENAI_API_KEY=sk-<key>\n"),
        ("placeholder-proj-x48", "placeholder `sk-proj-` + 48 x", "OPENAI_API_KEY=sk-proj-" + "x" * 48 + "\n"),
        ("repeated-legacy", "one repeated char with the marker (legacy shape)",
         "OPENAI_API_KEY=sk-" + "A" * 20 + MARKER + "A" * 20 + "\n"),
        ("repeated-project", "one repeated char with the marker (project shape)",
         "OPENAI_API_KEY=sk-proj-" + "A" * 74 + MARKER + "A" * 74 + "\n"),
        ("stripe-live", "Stripe `sk_live_`", "STRIPE_SECRET_KEY=sk_live_51" + r(ALNUM, 46) + "\n"),
        ("stripe-test", "Stripe `sk_test_`", "STRIPE_SECRET_KEY=sk_test_51" + r(ALNUM, 46) + "\n"),
        ("scikit-learn", "`scikit-learn`", "pip install scikit-learn  # a.k.a. sk-learn\n"),
        ("css-sk-circle", "`.sk-circle` CSS", ".sk-circle { width: 40px; height: 40px; } "
         ".sk-cube-grid .sk-cube { float: left; }\n"),
        ("task-run", "`task-` + 48 alphanumerics, T3BlbkFJ at 20",
         "queued task-" + r(ALNUM, 20) + MARKER + r(ALNUM, 20) + "\n"),
        ("too-long-legacy", "legacy key + 3 more key characters", "OPENAI_API_KEY=" + legacy + r(ALNUM, 3) + "\n"),
        ("too-long-project", "project key (74/74) + 3 more key characters",
         "OPENAI_API_KEY=" + project + r(ALNUM, 3) + "\n"),
        ("sk-48-no-vendor", "`sk-` + 48 alphanumerics, no marker, no vendor named",
         'API_KEY="' + moonshot + '"\n'),
        ("sk-hex32-no-vendor", "`sk-` + 32 hex, no vendor named",
         'API_KEY="sk-' + r("0123456789abcdef", 32) + '"\n'),
    ]


def other_providers(rng):
    """(provider, file name, key, file content) of each fake key of another provider."""
    def r(alphabet, n):
        return "".join(rng.choice(alphabet) for _ in range(n))

    out = []
    for n in range(1, 4):
        key = "sk-ant-api03-" + r(URLSAFE, 93) + "AA"
        out.append(("anthropic", f"anthropic-{n}.env", key, f"ANTHROPIC_API_KEY={key}\n"))
    for n in range(1, 4):
        key = "sk-" + r(ALNUM, 48)
        assert MARKER not in key
        out.append(("moonshot", f"moonshot-{n}.py", key,
                    f'client = OpenAI(api_key="{key}", base_url="https://api.moonshot.cn/v1")\n'))
    for n in range(1, 4):
        key = "sk-" + r("0123456789abcdef", 32)
        out.append(("deepseek", f"deepseek-{n}.py", key,
                    f'client = OpenAI(api_key="{key}", base_url="https://api.deepseek.com")\n'))
    return out


def build(args):
    dest, meta = os.path.abspath(args.dest), os.path.abspath(args.meta)
    if os.path.exists(dest):
        if os.listdir(dest) and not os.path.exists(meta):
            sys.exit(f"precision.py: {dest} exists and was not built by this script (no {meta}): refusing to delete it")
        shutil.rmtree(dest)
    if os.path.exists(meta):
        os.remove(meta)
    files = {}
    positives, neg, other = [], [], []
    for i, shape in enumerate(SHAPES):
        for n, key in enumerate(gen(shape, PER_SHAPE, 1000 + i), 1):
            rel = f"positives/{shape}/key-{n}.env"
            files[rel] = f"OPENAI_API_KEY={key}\n"
            positives.append({"shape": shape, "context": "env", "key": key, "file": rel})
        keys = gen(shape, sum(c[3] for c in CONTEXTS), 2000 + i)
        for name, ext, template, count in CONTEXTS:
            mine, keys = keys[:count], keys[count:]
            rel = f"contexts/{shape}-{name}.{ext}"
            files[rel] = template.format(*mine)
            positives += [{"shape": shape, "context": name, "key": k, "file": rel} for k in mine]
    rng = random.Random(3000)
    for name, what, content in negatives(rng):
        rel = f"negatives/{name}.txt"
        files[rel] = content
        neg.append({"name": name, "what": what, "file": rel, "content": content.rstrip("\n")})
    for provider, name, key, content in other_providers(rng):
        rel = f"other-provider/{name}"
        files[rel] = content
        other.append({"provider": provider, "key": key, "file": rel})
    for rel, content in files.items():
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(content)
    with open(meta, "w") as fh:
        json.dump({"dest": dest, "files": len(files), "planted_count": len(positives), "positives": positives,
                   "negatives": neg, "other_provider": other}, fh, indent=1)
    print(f"precision.py: {len(files)} files in {dest}: {len(positives)} fake OpenAI keys, {len(neg)} hard "
          f"negatives, {len(other)} keys of other providers", file=sys.stderr)


# ------------------------------------------------------------------ reports --

def findings(report):
    """[(path, rule, secret text)] of one report of keyhound, gitleaks, kingfisher or betterleaks."""
    with open(report, errors="replace") as fh:
        data = load_json_or_lines(fh.read())
    if isinstance(data, dict):
        data = data.get("findings") or data.get("results") or []
    out = []
    for f in data:
        if "RuleID" in f:  # gitleaks
            out.append((f.get("File", ""), f["RuleID"], f"{f.get('Secret', '')}\n{f.get('Match', '')}"))
        elif "rule_id" in f and isinstance(f.get("match"), dict):  # betterleaks
            m = f["match"]
            out.append((f.get("location", {}).get("path", ""), f["rule_id"], f"{m.get('value', '')}\n{m.get('full', '')}"))
        elif "rule_id" in f:  # keyhound (--show-secrets)
            out.append((f.get("path", ""), f["rule_id"], f.get("secret", "")))
        elif isinstance(f.get("rule"), dict) and isinstance(f.get("finding"), dict):  # kingfisher
            g = f["finding"]
            out.append((g.get("path", ""), f["rule"].get("id") or f["rule"].get("name", ""), g.get("snippet", "")))
        else:
            out.append(("", "?", json.dumps(f)))
    return out


def rel_of(path, dest, known):
    if path.startswith(dest + "/"):
        return path[len(dest) + 1:]
    for rel in known:
        if path == rel or path.endswith("/" + rel):
            return rel
    return path


def is_openai(rule):
    return "openai" in rule.lower()


def short(s, n=60):
    s = s.split("\n")[0]
    return s if len(s) <= n else s[: n - 1] + "…"


def table(args):
    with open(args.meta) as fh:
        meta = json.load(fh)
    dest = meta["dest"]
    known = {p["file"] for p in meta["positives"]} | {n["file"] for n in meta["negatives"]} | \
            {o["file"] for o in meta["other_provider"]}
    tools = []
    with open(args.tools) as fh:
        for line in fh:
            if line.strip():
                name, status, version, report, cmd = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
                tools.append({"name": name, "status": status, "version": version, "report": report, "cmd": cmd})
    for t in tools:
        if t["status"] != "ok":
            continue
        try:
            t["findings"] = [(rel_of(p, dest, known), rule, sec) for p, rule, sec in findings(t["report"])]
        except Exception as e:  # unreadable report
            t["status"] = f"unreadable report ({e})"

    negs, pos, other = meta["negatives"], meta["positives"], meta["other_provider"]
    rows = []  # (label, {tool: cell})

    def count_keys(t, keys):
        return sum(any(k in sec for _, _, sec in t["findings"]) for k in keys)

    def row(label, fn):
        rows.append((label, {t["name"]: (fn(t) if t["status"] == "ok" else "-") for t in tools}))

    for shape in SHAPES:
        keys = [p["key"] for p in pos if p["shape"] == shape and p["context"] == "env"]
        row(f"{shape} (`OPENAI_API_KEY=`)", lambda t, keys=keys: f"{count_keys(t, keys)}/{len(keys)}")
    for name, *_ in CONTEXTS:
        keys = [p["key"] for p in pos if p["context"] == name]
        row(f"in {CONTEXT_LABEL[name]}, all shapes", lambda t, keys=keys: f"{count_keys(t, keys)}/{len(keys)}")
    allpos = [p["key"] for p in pos]

    def generic_only(t):
        found = [k for k in allpos if any(k in sec for _, _, sec in t["findings"])]
        gen = [k for k in found if not any(k in sec and is_openai(rule) for _, rule, sec in t["findings"])]
        return f"{len(gen)}/{len(found)}"
    row("OpenAI keys found only by a non-OpenAI rule (of those found)", generic_only)
    labels = {"anthropic": "Anthropic keys", "moonshot": "Moonshot `sk-` + 48 next to api.moonshot.cn",
              "deepseek": "DeepSeek `sk-` + 32 hex next to api.deepseek.com"}
    for provider in dict.fromkeys(o["provider"] for o in other):
        okeys = [o["key"] for o in other if o["provider"] == provider]
        row(f"{labels.get(provider, provider)} (another provider: not FPs)",
            lambda t, okeys=okeys: f"{count_keys(t, okeys)}/{len(okeys)}")
    allother = [o["key"] for o in other]
    row("… of these claimed by an OpenAI rule", lambda t: "{}/{}".format(
        sum(any(k in sec and is_openai(rule) for _, rule, sec in t["findings"]) for k in allother), len(allother)))
    nfiles = {n["file"] for n in negs}

    def fp(t, only_openai=False):
        hit = {p for p, rule, _ in t["findings"] if p in nfiles and (is_openai(rule) or not only_openai)}
        return f"{len(hit)}/{len(negs)}"
    row(f"false positives (of {len(negs)} negative files)", fp)
    row("… of which by an OpenAI rule", lambda t: fp(t, True))

    names = [t["name"] for t in tools]
    w0 = max(len(r[0]) for r in rows)
    w = [max(len(n), 7) for n in names]
    lines = ["  ".join([" " * w0] + [n.rjust(x) for n, x in zip(names, w)])]
    for label, cells in rows:
        lines.append("  ".join([label.ljust(w0)] + [str(cells[n]).rjust(x) for n, x in zip(names, w)]))
    print("\n" + "\n".join(lines) + "\n")
    for t in tools:
        if t["status"] != "ok":
            print(f"{t['name']}: {t['status']}")

    # details: what each tool flagged in each negative file; which planted keys it missed
    neg_detail, missed, partial, nonopenai = [], [], [], []
    for n in negs:
        flagged = []
        for t in tools:
            if t["status"] != "ok":
                continue
            hits = sorted({(rule, short(sec)) for p, rule, sec in t["findings"] if p == n["file"]})
            flagged += [f"{t['name']}: `{rule}` on `{sec}`" for rule, sec in hits]
        neg_detail.append(f"- `{n['file']}` ({n['what']}): " + ("; ".join(flagged) if flagged else "nothing") +
                          f"  \n  content: `{short(n['content'], 200)}`")
    for t in tools:
        if t["status"] != "ok":
            continue
        miss = [p for p in pos + other if not any(p["key"] in sec for _, _, sec in t["findings"])]
        if miss:
            by = {}
            for p in miss:
                by.setdefault(p.get("shape", p.get("provider")) + ("/" + p["context"] if "context" in p else ""), []).append(p)
            missed.append(f"- {t['name']}: " + ", ".join(f"{k} ×{len(v)}" for k, v in by.items()))
        by = {}
        for p in pos:
            rules = {rule for _, rule, sec in t["findings"] if p["key"] in sec}
            if rules and not any(is_openai(r) for r in rules):
                k = f"{p['shape']}/{p['context']} by {', '.join(f'`{r}`' for r in sorted(rules))}"
                by[k] = by.get(k, 0) + 1
        if by:
            nonopenai.append(f"- {t['name']}: " + ", ".join(f"{k} ×{v}" for k, v in by.items()))
        # findings in positive/other files whose secret is not a whole planted key (partial or merged matches)
        allkeys = [p["key"] for p in pos + other]
        odd = [(p, rule, sec) for p, rule, sec in t["findings"]
               if p not in nfiles and not any(k in sec for k in allkeys)]
        for p, rule, sec in odd:
            partial.append(f"- {t['name']}: `{p}` `{rule}` on `{short(sec, 90)}`")

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = ["### Benchmark: precision (OpenAI key shapes and hard negatives)", "",
          f"Tree: {meta['files']} small files: {PER_SHAPE} fake keys per OpenAI key shape, each in its own "
          f"`OPENAI_API_KEY=<key>` file, {len(pos) - PER_SHAPE * len(SHAPES)} more in other contexts, "
          f"{len(negs)} hard-negative files (no OpenAI key) and {len(other)} fake keys of other providers "
          "(Anthropic, Moonshot, DeepSeek). "
          "All keys are random strings made by `scripts/gen-fake-key.py` (seeded); none was ever issued.",
          "A key counts as found when a finding's secret/match contains the whole key (any rule); a negative "
          "file counts as a false positive when the tool reports anything in it.",
          (args.nonet + " " if args.nonet else "") + f"Date: {date}. Command: `{args.command}`.", "",
          "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, cells in rows:
        md.append(f"| {label} | " + " | ".join(str(cells[n]) for n in names) + " |")
    md += ["", "Tools (REPORT = the tool's JSON report, DIR = the tree):", ""]
    for t in tools:
        c = t["cmd"].replace(t["report"], "REPORT").replace(dest, "DIR")
        c = re.sub(r"\S*/venv/", "venv/", c)
        status = "" if t["status"] == "ok" else f" **{t['status']}**"
        md.append(f"- {t['name']} ({t['version'] or '?'}){status}: `{c}`")
    md += ["", "What each tool flagged in each hard-negative file (rule, then the flagged text):", ""] + neg_detail
    md += ["", "Planted keys not found (shape/context × count):", ""] + (missed or ["- none"])
    md += ["", "OpenAI keys found only by a non-OpenAI rule (shape/context by rule × count; a generic rule "
           "needs a key-like name such as `OPENAI_API_KEY=` or `\"key\":` next to the key):", ""] + (nonopenai or ["- none"])
    md += ["", "Findings in positive files whose secret is not a whole planted key (partial or merged matches):",
           ""] + (partial or ["- none"])
    md += ["", "Peers run their full default rule sets (hundreds of rules), so a negative file may be flagged by "
           "a rule for another kind of secret (e.g. Stripe, or a generic `api_key=` rule): the list above names the rule."]
    with open(args.out, "w") as fh:
        fh.write("\n".join(md) + "\n")
    print(f"table written to {args.out}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--dest", required=True)
    b.add_argument("--meta", required=True)
    t = sub.add_parser("table")
    t.add_argument("--meta", required=True)
    t.add_argument("--tools", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--command", default="scripts/bench.sh precision")
    t.add_argument("--nonet", default="")
    args = ap.parse_args()
    build(args) if args.cmd == "build" else table(args)


if __name__ == "__main__":
    main()
