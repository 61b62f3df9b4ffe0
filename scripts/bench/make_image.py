#!/usr/bin/env python3
"""Writes the image benchmark's corpus: one container image, twice.

    make_image.py OUT_DIR [--size MB] [--layers N] [--source DIR] [--meta FILE]

OUT_DIR/layout/      an OCI image layout with gzip layers (what `skopeo copy` or a registry pull gives)
OUT_DIR/docker.tar   the same image as a classic `docker save` archive (uncompressed layers)
OUT_DIR/oci.tar      the OCI layout in a tar (what Kingfisher's `scan docker --archive` reads)
OUT_DIR/layers/N.tar.gz  each gzip layer alone, for the floor (`tar -xzf` of every layer to /dev/null)

The layers hold real source files (the crates under ~/.cargo/registry/src by default), about --size MB of them
uncompressed, dealt into --layers layers. Three FAKE OpenAI keys are planted: one in a `.env` of layer 0 that the
last layer deletes with a whiteout, one in a file of the middle layer, one in the config's Env.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile



def fake_key(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "sk-proj-" + "".join(rng.choice(alphabet) for _ in range(48))


def source_files(root, budget):
    """(path inside the image, bytes) of files under root, up to budget bytes, in a stable order."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            size = os.path.getsize(path)
            if size > 4 << 20:
                continue
            with open(path, "rb") as f:
                data = f.read()
            yield "srv/" + os.path.relpath(path, root), data
            total += len(data)
            if total >= budget:
                return


def layer_tar(entries):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=500, help="MB of files, uncompressed")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--source", default=os.path.expanduser("~/.cargo/registry/src"))
    parser.add_argument("--meta", help="where to write the corpus metadata (planted keys) for bench.sh")
    args = parser.parse_args()
    rng = random.Random(7)
    keys = [fake_key(rng) for _ in range(3)]
    files = list(source_files(args.source, args.size << 20))
    per_layer = max(1, len(files) // args.layers)
    layers = [files[i * per_layer:(i + 1) * per_layer] for i in range(args.layers)]
    layers[-1].extend(files[args.layers * per_layer:])
    layers[0].append(("app/.env", f"OPENAI_API_KEY={keys[0]}\n".encode()))
    layers[len(layers) // 2].append(("app/settings.py", f'OPENAI_KEY = "{keys[1]}"\n'.encode()))
    layers[-1].append(("app/.wh..env", b""))
    tars = [layer_tar(entries) for entries in layers]

    layout = os.path.join(args.out, "layout")
    os.makedirs(os.path.join(args.out, "layers"), exist_ok=True)
    descriptors = []
    for index, tar in enumerate(tars):
        compressed = gzip.compress(tar, compresslevel=6, mtime=0)
        with open(os.path.join(args.out, "layers", f"{index}.tar.gz"), "wb") as f:
            f.write(compressed)
        digest, size = put_blob(layout, compressed)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
                            "size": size})
    diff_ids = ["sha256:" + hashlib.sha256(tar).hexdigest() for tar in tars]
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", f"OPENAI_API_KEY={keys[2]}"], "Cmd": ["python", "app.py"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"COPY layer{i} /"} for i in range(len(tars))],
    }
    config_bytes = json.dumps(config).encode()
    config_digest, config_size = put_blob(layout, config_bytes)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": config_size},
                "layers": descriptors}
    manifest_digest, manifest_size = put_blob(layout, json.dumps(manifest).encode())
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": manifest_digest, "size": manifest_size,
                                                      "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
                  f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    # The classic `docker save` format: uncompressed layers in DIR/layer.tar, the config as HEX.json.
    with tarfile.open(os.path.join(args.out, "docker.tar"), "w") as archive:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            archive.addfile(info, io.BytesIO(data))
        layer_paths = []
        for tar, diff_id in zip(tars, diff_ids):
            path = diff_id.split(":")[1] + "/layer.tar"
            add(path, tar)
            layer_paths.append(path)
        config_name = config_digest.split(":")[1] + ".json"
        add(config_name, config_bytes)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": ["bench:latest"],
                                          "Layers": layer_paths}]).encode())
    with tarfile.open(os.path.join(args.out, "oci.tar"), "w") as archive:
        archive.add(layout, arcname=".")
    total = sum(len(t) for t in tars)
    if args.meta:
        planted = [{"key": keys[0], "path": "app/.env"}, {"key": keys[1], "path": "app/settings.py"},
                   {"key": keys[2], "path": "<config:Env>"}]
        with open(args.meta, "w") as f:
            json.dump({"planted": planted, "planted_count": len(planted), "size_mb_requested": args.size,
                       "files": len(files), "layers": len(tars), "uncompressed_bytes": total,
                       "gzip_bytes": sum(d["size"] for d in descriptors)}, f)
    print(f"{len(files)} files, {total / 1e6:.0f} MB of layers uncompressed, "
          f"{sum(d['size'] for d in descriptors) / 1e6:.0f} MB gzip, 3 planted keys")


if __name__ == "__main__":
    main()
