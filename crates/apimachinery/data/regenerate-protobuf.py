#!/usr/bin/env python3
"""Rebuilds k8s-protobuf.binpb and k8s-protobuf-json.json (see README.md).

Usage: regenerate-protobuf.py API_REPO APIMACHINERY_REPO
where each is a git clone (or bare repository) of kubernetes/api and kubernetes/apimachinery.
Needs `protoc` (Debian: protobuf-compiler). Reads the tag TAG below from both repositories.

- k8s-protobuf.binpb: a FileDescriptorSet (no source info) of the stable (vN) API groups'
  generated.proto files and the apimachinery types they use.
- k8s-protobuf-json.json: what the .proto files do not say about the Go types they mirror,
  read from the Go struct tags (`json:"…" protobuf:"…"`):
  - keepZero: fields whose zero value Go's JSON encoder writes (a pointer, or no omitempty),
    as "package.Message.field";
  - inline: embedded structs whose fields JSON flattens into the parent (`json:""` or ",inline");
  - rename: fields whose JSON name differs from the proto field name;
  - listWrappers: messages standing for a named Go slice (`type ExtraValue []string`), whose
    JSON is the bare array of their `items`.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

TAG = "v0.36.3"
HERE = os.path.dirname(os.path.abspath(__file__))
STABLE = re.compile(r"(^|/)v[0-9]+/generated\.proto$")
APIMACHINERY_DIRS = [
    "pkg/api/resource",
    "pkg/apis/meta/v1",
    "pkg/runtime",
    "pkg/runtime/schema",
    "pkg/util/intstr",
]


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True).stdout


def files(repo):
    return git(repo, "ls-tree", "-r", "--name-only", TAG).decode().split()


def show(repo, path):
    return git(repo, "show", f"{TAG}:{path}").decode()


FIELD = re.compile(r'^\s+(?:(\w+)\s+)?(\*?[\w.\[\]*]+)\s+`([^`]*)`')


def scan_go(source, package, table, message_names):
    for name, target in re.findall(r"^type (\w+) \[\](\w+)\s*$", source, re.M):
        if f"{package}.{name}" in message_names:
            table["listWrappers"].append(f"{package}.{name}")
    for struct, body in re.findall(r"^type (\w+) struct \{\n(.*?)^\}", source, re.M | re.S):
        for line in body.splitlines():
            match = FIELD.match(line)
            if not match:
                continue
            field_name, go_type, tags = match.groups()
            proto = re.search(r'protobuf:"([^"]*)"', tags)
            json_tag = re.search(r'json:"([^"]*)"', tags)
            if not proto or not json_tag:
                continue
            # go-to-protobuf names an embedded struct without name= after its type, lowerCamelCased.
            type_name = go_type.lstrip("*").split(".")[-1]
            default_name = type_name[:1].lower() + type_name[1:]
            proto_name = next((p[5:] for p in proto.group(1).split(",") if p.startswith("name=")), default_name)
            key = f"{package}.{struct}.{proto_name}"
            json_parts = json_tag.group(1).split(",")
            json_name = json_parts[0]
            if "inline" in json_parts[1:] or json_name == "":
                table["inline"].append(key)
                continue
            if json_name == "-":
                continue
            if json_name != proto_name:
                table["rename"][key] = json_name
            if go_type.startswith("*") or "omitempty" not in json_parts[1:]:
                table["keepZero"].append(key)


def main():
    api, apimachinery = sys.argv[1], sys.argv[2]
    table = {"keepZero": [], "inline": [], "rename": {}, "listWrappers": []}
    with tempfile.TemporaryDirectory() as tmp:
        protos = []
        go_sources = []
        for repo, prefix, wanted in (
            (api, "k8s.io/api", lambda p: STABLE.search(p)),
            (apimachinery, "k8s.io/apimachinery", lambda p: os.path.dirname(p) in APIMACHINERY_DIRS),
        ):
            for path in files(repo):
                if path.endswith("generated.proto") and wanted(path):
                    out = os.path.join(tmp, prefix, path)
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    text = show(repo, path)
                    with open(out, "w") as f:
                        f.write(text)
                    protos.append(os.path.join(prefix, path))
                    package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
                    messages = {f"{package}.{m}" for m in re.findall(r"^message (\w+)", text, re.M)}
                    directory = os.path.dirname(path)
                    for go in files(repo):
                        if (
                            os.path.dirname(go) == directory
                            and go.endswith(".go")
                            and not go.endswith("_test.go")
                            and not os.path.basename(go).startswith("zz_")
                        ):
                            go_sources.append((show(repo, go), package, messages))
        subprocess.run(
            ["protoc", f"-I{tmp}", "--include_imports", "-o", os.path.join(HERE, "k8s-protobuf.binpb"), *protos],
            check=True,
        )
    for source, package, messages in go_sources:
        scan_go(source, package, table, messages)
    for key in ("keepZero", "inline", "listWrappers"):
        table[key] = sorted(set(table[key]))
    table["rename"] = dict(sorted(table["rename"].items()))
    table["source"] = f"kubernetes/api and kubernetes/apimachinery {TAG}"
    with open(os.path.join(HERE, "k8s-protobuf-json.json"), "w") as f:
        json.dump(table, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
