#!/usr/bin/env python3
"""Build the "minified" benchmark: one single-line JavaScript bundle of --size-mb MB.

  make_minified.py --dest DIR --meta META.json [--size-mb 50] [--seed 7]

The bundle is what defeats line-oriented and decoding scanners: no newline at all, and dense with the things a
decoder reacts to. Every few hundred bytes there is a JSON string with `\\u002d` and `\\/` escapes, a URL with
`%2D` and `%5F`, or a base64 `data:` URI (random bytes). Four FAKE OpenAI keys are planted: one in the clear,
one base64-encoded, one with its dashes written `\\u002d`, and one percent-encoded in a URL. A scanner that does
not decode can find only the first. The keys are random strings of the published shape (see
scripts/gen-fake-key.py); they were never issued by anyone.
"""

import argparse
import base64
import json
import os
import random
import string

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def project_key(rng):
    return "sk-proj-" + rand(rng, URLSAFE, 74) + "T3BlbkFJ" + rand(rng, URLSAFE, 74)


def ident(rng):
    return rng.choice(string.ascii_letters) + rand(rng, ALNUM, rng.randint(0, 6))


def chunk(rng):
    """One statement of minified code, of one of the shapes a bundle is made of."""
    kind = rng.randrange(6)
    a, b, c = ident(rng), ident(rng), ident(rng)
    if kind == 0:
        return f"function {a}({b},{c}){{return {b}&&{c}.{ident(rng)}({b},{rng.randint(0, 999)})}}"
    if kind == 1:  # JSON with escapes, as bundlers emit i18n tables
        words = [rand(rng, string.ascii_lowercase, rng.randint(2, 9)) for _ in range(6)]
        return f'var {a}=JSON.parse("{{\\"{words[0]}\\":\\"{words[1]}\\u002d{words[2]}\\",\\"u\\":\\"https:\\/\\/{words[3]}.com\\/{words[4]}\\"}}");'
    if kind == 2:  # URLs with percent-escapes
        q = rand(rng, string.ascii_lowercase, 5)
        return f'{a}.src="https://cdn.example.com/{q}%2D{rand(rng, ALNUM, 8)}%5Fv{rng.randint(1, 9)}?x=%20{b}";'
    if kind == 3:  # a small inline image
        data = base64.b64encode(rng.randbytes(rng.randint(48, 600))).decode()
        return f'{a}.style.backgroundImage="url(data:image/png;base64,{data})";'
    if kind == 4:
        return f"{a}=({b}||{{}}).{c}?.map(({ident(rng)})=>{rng.randint(0, 99)}*{b}[{c}]);"
    return f'if({a}!=={b}){{throw new Error("{rand(rng, string.ascii_letters + " ", 30)}")}}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--size-mb", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    keys = [project_key(rng) for _ in range(4)]
    plants = [
        ("plain", f'const apiKey="{keys[0]}";'),
        ("base64", f'const cfg=atob("{base64.b64encode(("OPENAI_API_KEY=" + keys[1]).encode()).decode()}");'),
        ("escape", f'const k2="{keys[2].replace("-", chr(92) + "u002d")}";'),
        ("percent", f'fetch("https://proxy.example.com/?key={keys[3].replace("-", "%2D").replace("_", "%5F")}");'),
    ]
    target = args.size_mb * 2**20
    os.makedirs(args.dest, exist_ok=True)
    path = os.path.join(args.dest, "bundle.min.js")
    marks = sorted(rng.randrange(target) for _ in plants)
    written, parts, next_plant = 0, [], 0
    with open(path, "w") as fh:
        while written < target:
            if next_plant < len(plants) and written >= marks[next_plant]:
                piece = plants[next_plant][1]
                next_plant += 1
            else:
                piece = chunk(rng)
            parts.append(piece)
            written += len(piece)
            if len(parts) >= 4096:
                fh.write("".join(parts))
                parts = []
        for _, piece in plants[next_plant:]:
            parts.append(piece)
        fh.write("".join(parts))
    planted = [{"key": key, "kind": how, "file": "bundle.min.js", "line": 1} for key, (how, _) in zip(keys, plants)]
    with open(args.meta, "w") as fh:
        json.dump({"size_mb_requested": args.size_mb, "files": 1, "planted": planted,
                   "planted_count": len(planted)}, fh, indent=1)
    print(f"make_minified: {os.path.getsize(path) / 2**20:.0f} MB on one line, {len(planted)} planted keys -> {path}")


if __name__ == "__main__":
    main()
