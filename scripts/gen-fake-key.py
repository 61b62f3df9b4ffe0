#!/usr/bin/env python3
"""Print fake API keys of a given shape, for rule examples, fixtures and benchmarks.

The keys are random strings of the published shapes; they were never issued by any provider.

    scripts/gen-fake-key.py SHAPE [COUNT] [--seed N]

SHAPE is one of: legacy, project, project-48, project-2020, svcacct, svcacct-46, svcacct-named, admin, none, none-48.
"""
import argparse
import random
import string

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
MARKER = "T3BlbkFJ"  # base64 of "OpenAI"


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def marked(rng, prefix, alphabet, half):
    return prefix + rand(rng, alphabet, half) + MARKER + rand(rng, alphabet, half)


SHAPES = {
    "legacy": lambda r: marked(r, "sk-", ALNUM, 20),
    "project": lambda r: marked(r, "sk-proj-", URLSAFE, 74),
    "project-48": lambda r: "sk-proj-" + rand(r, ALNUM, 48),
    "project-2020": lambda r: marked(r, "sk-proj-", ALNUM, 20),
    "svcacct": lambda r: marked(r, "sk-svcacct-", URLSAFE, 74),
    "svcacct-46": lambda r: marked(r, "sk-svcacct-", URLSAFE, 46),
    "svcacct-named": lambda r: marked(r, "sk-" + r.choice(["billing-bot", "ci-runner", "etl"]) + "-", ALNUM, 20),
    "admin": lambda r: marked(r, "sk-admin-", URLSAFE, 58),
    "none": lambda r: marked(r, "sk-None-", URLSAFE, 74),
    "none-48": lambda r: "sk-None-" + rand(r, ALNUM, 48),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("count", nargs="?", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for _ in range(args.count):
        print(SHAPES[args.shape](rng))


if __name__ == "__main__":
    main()
