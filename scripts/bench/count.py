#!/usr/bin/env python3
"""Count the findings in one tool's report and how many planted keys it found.

  count.py TOOL REPORT META   ->  prints "FINDINGS PLANTED_FOUND BYTES_SCANNED"
                                 ("?" for what cannot be read, "-" for unknown)

TOOL is keyhound, rg, gitleaks, kingfisher or betterleaks (a "-1t" or "-plain"
variant counts as its tool); REPORT is what the
timed run wrote; META is the corpus metadata JSON (its "planted" list has the
keys).  A planted key counts as found when it appears in one of the reported
findings, in full or in keyhound's redacted form (`sk-proj-AbCd…wXyZ`); for
keyhound, an OpenAI finding that names the planted file also counts.
"""

import json
import re
import sys


def load_json_or_lines(text):
    text = text.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(l) for l in text.splitlines() if l.strip()]


def bytes_scanned(obj, depth=0):
    """A "bytes_scanned" count from the report's summary parts, if any."""
    if isinstance(obj, dict) and depth < 4:
        if isinstance(obj.get("bytes_scanned"), int):
            return obj["bytes_scanned"]
        for k, v in obj.items():
            if k != "findings":
                n = bytes_scanned(v, depth + 1)
                if n is not None:
                    return n
    return None


def findings_of(tool, text):
    """List of findings, each as a string to search for keys and paths."""
    if tool in ("rg", "rg-o"):
        out = []
        for line in text.splitlines():
            if not line:
                continue
            # rg -c prints "path:count" (just "count" for a single file)
            head, _, n = line.rpartition(":")
            try:
                out += [line] * int(n)
            except ValueError:
                out.append(line)
        return out
    data = load_json_or_lines(text)
    if isinstance(data, dict):
        for k in ("findings", "results", "leaks", "matches"):
            if isinstance(data.get(k), list):
                data = data[k]
                break
        else:
            if "runs" in data:  # SARIF
                data = [r for run in data["runs"] for r in run.get("results", [])]
            else:
                data = []
    return [json.dumps(f) if not isinstance(f, str) else f for f in data]


def main():
    tool, report, meta = sys.argv[1:4]
    # A variant (rg-1t, keyhound-1t, keyhound-plain) writes its tool's kind of report.
    tool = re.sub(r"-(1t|plain)$", "", tool)
    try:
        with open(report, errors="replace") as fh:
            text = fh.read()
        with open(meta) as fh:
            planted = json.load(fh)["planted"]
        found = findings_of(tool, text)
    except Exception as e:  # unreadable report: the run is reported as such
        print(f"count.py: {tool}: {e}", file=sys.stderr)
        print("? ? -")
        return
    hit = 0
    per_file = {}
    for p in planted:
        path = p.get("file") or p.get("path") or "\0"
        per_file[path] = per_file.get(path, 0) + 1
    rg_credit = {}
    for p in planted:
        key = p["key"]
        path = p.get("file") or p.get("path") or "\0"
        if tool == "rg":
            # rg -c reports files and matching lines, not matches: the planted file must be listed, and a file
            # holding several planted keys is credited with at most as many as it has matching lines.
            lines = [f for f in found if f.startswith(path) or ("/" + path + ":") in f]
            credit = rg_credit.get(path, len(lines))
            ok = credit > 0
            rg_credit[path] = credit - 1
        else:
            prefix = re.match(r"sk-(?:proj-|svcacct-|admin-|None-)?", key).group(0)
            head, tail = key[: len(prefix) + 4], key[-4:]
            ok = any(key in f or (head in f and ("\\u2026" + tail in f or "\u2026" + tail in f)) for f in found)
            # (a file's OpenAI finding stands for its planted key only when the file holds one)
            if not ok and tool.startswith("keyhound") and per_file[path] == 1:
                ok = any(path in f and "openai" in f.lower() for f in found)
        hit += ok
    scanned = None
    if tool != "rg":
        try:
            scanned = bytes_scanned(json.loads(text))
        except Exception:
            pass
    print(f"{len(found)} {hit} {scanned if scanned is not None else '-'}")


if __name__ == "__main__":
    main()
