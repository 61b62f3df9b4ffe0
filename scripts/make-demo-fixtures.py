#!/usr/bin/env python3
"""Regenerates fixtures/demo: a small tree with fake keys, hard negatives, a binary file, a minified file
and a UTF-16 PowerShell profile. Every key is a random string of a published shape (scripts/gen-fake-key.py),
never a real key. The expected findings are listed in fixtures/demo.expected.tsv.
"""
import importlib.util
import pathlib
import random
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"
spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen-fake-key.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
rng = random.Random(20261123)


def key(shape):
    return gen.SHAPES[shape](rng)


def write(rel, text, encoding="utf-8"):
    path = DEMO / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding, newline="")


if DEMO.exists():
    shutil.rmtree(DEMO)
expected = []


def expect(rel, rule, secret):
    expected.append((rel, rule, secret))


project = key("project")
write(".env", f"# local settings\r\nDEBUG=1\r\nOPENAI_API_KEY={project}\r\n")
expect(".env", "openai-project-key", project)

legacy, placeholder = key("legacy"), "sk-your-api-key-here"
write("app/settings.py", f'''import os

# Never commit a key like this one.
OPENAI_KEY = "{legacy}"
EXAMPLE_KEY = "{placeholder}"  # a placeholder: not a finding
FALLBACK = os.environ.get("OPENAI_API_KEY", "sk-...")
''')
expect("app/settings.py", "openai-legacy-key", legacy)

admin = key("admin")
write("app/client.js", f'''const config = {{"adminKey":"{admin}","org":"org-demo"}};
export default config;
''')
expect("app/client.js", "openai-admin-key", admin)

svc, svc46 = key("svcacct"), key("svcacct-46")
write("deploy/service.yaml", f'''apiVersion: v1
kind: Secret
stringData:
  OPENAI_API_KEY: {svc}
  OLD_KEY: '{svc46}'
''')
expect("deploy/service.yaml", "openai-service-account-key", svc)
expect("deploy/service.yaml", "openai-service-account-key", svc46)

k1, k2 = key("project-48"), key("none")
write("notes.txt", f"keys:{k1},{k2}\nsee https://example.com/?q=%20{k1}&x=1\n")
expect("notes.txt", "openai-project-key", k1)
expect("notes.txt", "openai-none-key", k2)
expect("notes.txt", "openai-project-key", k1)

write("app/allowed.py", f'TEST_KEY = "{key("legacy")}"  # keyhound:allow (a revoked key kept for a test)\n')

# Hard negatives: things with a key's look that are not keys.
write("docs/GETTING_STARTED.md", f'''# Getting started

Set your key: `export OPENAI_API_KEY=sk-...` or `sk-<key>`.
A placeholder of the right length is still a placeholder: sk-proj-{"x" * 48}
Keys made of one character are not keys: sk-{"A" * 20}T3BlbkFJ{"A" * 20}
Stripe keys look different: sk_live_51H8xKqLkdjf8s7DfKq2nM3pQrStUvWxYz01AbCdEf and sk_test_4eC39HqLyjWDarjtT1zdp7dc
A task id is not a key: task-{legacy[3:]}
''')
write("requirements.txt", "scikit-learn==1.5.2\nsk-learn\nnumpy\n")
write("web/spinner.css", ".sk-circle { width: 40px; }\n.sk-cube-grid .sk-cube { float: left; }\n")

# A minified bundle: one long line with a key deep inside.
bundle_key = key("project")
chunks = [f"function f{i}(a){{return a*{i}+\"task-{i}\"}};" for i in range(4000)]
chunks.insert(3000, f'var k="{bundle_key}";')
write("web/app.min.js", "".join(chunks))
expect("web/app.min.js", "openai-project-key", bundle_key)

# A binary build artefact with a key embedded between NUL bytes.
binary_key = key("legacy")
blob = bytes(rng.randrange(256) for _ in range(2048)) + b"\0\0" + binary_key.encode() + b"\0" + bytes(range(256))
write("build/libclient.so", b"\x7fELF\x02\x01\x01\0" + blob)
expect("build/libclient.so", "openai-legacy-key", binary_key)

# A PowerShell profile saved as UTF-16 LE with a byte-order mark.
ps_key = key("project")
write("profile.ps1", ("\ufeff" + f'$env:OPENAI_API_KEY = "{ps_key}"\r\n').encode("utf-16-le"))
expect("profile.ps1", "openai-project-key", ps_key)

# Ignored by .gitignore: found only with --no-ignore.
write(".gitignore", "ignored/\n")
ignored_key = key("legacy")
write("ignored/secrets.txt", f"OPENAI_API_KEY={ignored_key}\n")

with open(ROOT / "fixtures" / "demo.expected.tsv", "w") as out:
    out.write("# path\trule_id\tsecret (findings of `keyhound scan fixtures/demo`, sorted)\n")
    for rel, rule, secret in sorted(expected):
        out.write(f"{rel}\t{rule}\t{secret}\n")
with open(ROOT / "fixtures" / "demo.ignored.tsv", "w") as out:
    out.write("# path\trule_id\tsecret (found only with --no-ignore)\n")
    out.write(f"ignored/secrets.txt\topenai-legacy-key\t{ignored_key}\n")
print(f"wrote {DEMO} with {len(expected)} expected findings")
