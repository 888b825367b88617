#!/usr/bin/env python3
"""Rebuilds kubernetes-swagger.json and crds.json from ../shared/fixtures (see README.md)."""
import glob
import json
import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "..", "..", "shared", "fixtures")


def main():
    crds = []
    for pattern in ("argo-cd/*.yaml", "argo-rollouts/*.yaml", "gateway-api/*.yaml", "istio/*.yaml"):
        for path in sorted(glob.glob(os.path.join(FIXTURES, "crds", pattern))):
            with open(path) as f:
                crds += [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "CustomResourceDefinition"]
    with open(os.path.join(HERE, "crds.json"), "w") as f:
        json.dump(crds, f, separators=(",", ":"))
    with open(os.path.join(FIXTURES, "kubernetes", "swagger.json")) as f:
        swagger = json.load(f)
    with open(os.path.join(HERE, "kubernetes-swagger.json"), "w") as f:
        json.dump(swagger, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
