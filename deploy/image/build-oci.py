#!/usr/bin/env python3
"""Builds the forge-manager container image as an OCI archive, reproducibly, without a daemon,
a base image or network access: one layer holding the release binary, exactly the shared
libraries and dynamic loader `ldd` names for it, /etc/passwd and /etc/group (uid 10001, no shell)
and /tmp. The same binary gives the same archive, byte for byte (sorted entries, fixed times and
owners, gzip without a timestamp). Matches the Dockerfile's runtime stage: ENTRYPOINT
/forge-manager, CMD run, USER 10001:10001, port 8000.

    python3 deploy/image/build-oci.py --binary target/release/forge-manager \\
        --out target/forge-manager.oci.tar --tag ghcr.io/OWNER/forge-manager:0.1.0

Load or push the archive with skopeo, podman or crane (docs/deployment.md, "The image"):
    skopeo copy oci-archive:target/forge-manager.oci.tar docker://REGISTRY/forge-manager:0.1.0
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

# SOURCE_DATE_EPOCH when set (reproducible-builds.org), else the epoch.
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
PASSWD = b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:10001:10001:forge-manager:/home/nonroot:/sbin/nologin\n"
GROUP = b"root:x:0:\nnonroot:x:10001:\n"


def shared_libraries(binary):
    """The absolute paths `ldd` names (libraries and the loader), as the binary asks for them."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    paths = []
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/") and word not in paths:
                paths.append(word)
    return paths


def add(tar, name, data, mode, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def layer(binary):
    """The root filesystem as an uncompressed tar: directories first, every entry sorted."""
    files = {"forge-manager": (open(binary, "rb").read(), 0o755),
             "etc/passwd": (PASSWD, 0o644),
             "etc/group": (GROUP, 0o644)}
    for lib in shared_libraries(binary):
        with open(os.path.realpath(lib), "rb") as f:
            files[lib.lstrip("/")] = (f.read(), 0o755)
    dirs = {"tmp"}
    for name in files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            add(tar, d, None, 0o1777 if d == "tmp" else 0o755, tarfile.DIRTYPE)
        for name in sorted(files):
            data, mode = files[name]
            add(tar, name, data, mode)
    return buf.getvalue()


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def build(binary, tag):
    raw = layer(binary)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=9) as z:
        z.write(raw)
    layer_digest, layer_blob = blob(gz.getvalue())
    created = datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "10001:10001",
            "Entrypoint": ["/forge-manager"],
            "Cmd": ["run"],
            "ExposedPorts": {"8000/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "forge-manager"},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": created, "created_by": "deploy/image/build-oci.py"}],
    }
    config_digest, config_blob = blob(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_blob)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(layer_blob)}],
    }
    manifest_digest, manifest_blob = blob(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest_blob),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }
    entries = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True, separators=(",", ":")).encode(),
    }
    for digest, data in ((layer_digest, layer_blob), (config_digest, config_blob),
                         (manifest_digest, manifest_blob)):
        entries["blobs/sha256/" + digest.split(":")[1]] = data
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            add(tar, d, None, 0o755, tarfile.DIRTYPE)
        for name in sorted(entries):
            add(tar, name, entries[name], 0o644)
    return out.getvalue(), manifest_digest


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", required=True, help="the release forge-manager binary")
    p.add_argument("--out", required=True, help="where to write the OCI archive")
    p.add_argument("--tag", default="localhost/forge-manager:dev", help="reference name in index.json")
    a = p.parse_args()
    archive, digest = build(a.binary, a.tag)
    with open(a.out + ".tmp", "wb") as f:
        f.write(archive)
    os.replace(a.out + ".tmp", a.out)
    print(f"{a.out}: {len(archive)} bytes ({len(archive) / 1e6:.1f} MB), manifest {digest}, {a.tag}")


if __name__ == "__main__":
    main()
