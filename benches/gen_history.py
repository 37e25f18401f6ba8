#!/usr/bin/env python3
"""Generates a git history of a synthetic Kustomize repo for benchmarking `envparity backfill`.

    python3 benches/gen_history.py OUT_DIR [--commits 300] [--services 50] [--seed 42]

Writes OUT_DIR/repo (a git repo on branch `main`) and OUT_DIR/pairs.json. The files are those of
benches/gen_repo.py (imported: `apps/<svc>/base` + `apps/<svc>/overlays/{dev,staging,production}`, with its
deliberately broken services). The first commit creates every service; each later commit touches one or two
services with one of these edits:

    release        bump the service's image tag (`images: newTag` of its three overlays)   -> 3 overlays
    replicas       change the replica count in one overlay's patch                         -> 1 overlay
    memory         change requests/limits memory in one overlay's patch                    -> 1 overlay
    env-var        add an env var to the base Deployment                                   -> base + 3 overlays
    base-resources change the base Deployment's cpu/memory (and, scaled, every overlay's)  -> base + 3 overlays

Authors, messages and dates (GIT_AUTHOR_DATE / GIT_COMMITTER_DATE, 2-6 hours apart from 2024-01-01) are
deterministic for a given --commits/--services/--seed, so commit ids are too.

pairs.json records, per commit (oldest first), how many kustomizations (bases and overlays) have at least one
input file changed, i.e. the renders a backfill that renders only changed kustomizations needs; it is computed
from the files this script rewrote (a changed file under `base/` changes the base and its three overlays, one
under `overlays/<env>/` that overlay only). `pairs` is the total, first commit included (every kustomization).
`distinct_inputs` is the number of distinct (kustomization, input files) states over the whole history: what a
content-addressed render cache must render at least (below `pairs` when an edit restores earlier content).

Python 3 standard library and the `git` CLI only.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no benches/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_repo  # noqa: E402  (benches/gen_repo.py: service_spec, base_files, overlay_files, ENVS, BREAKAGES)

ENVS = gen_repo.ENVS
AUTHORS = (
    ("Alice Martin", "alice@example.com"),
    ("Bob Okafor", "bob@example.com"),
    ("Chen Wei", "chen@example.com"),
    ("Dana Kowalski", "dana@example.com"),
    ("Eve Santos", "eve@example.com"),
)
START = datetime.datetime(2024, 1, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
# Edit kinds and their weights.
EDITS = (("release", 30), ("replicas", 25), ("memory", 20), ("env-var", 15), ("base-resources", 10))


class Service:
    """One service's mutable state: the gen_repo spec plus per-overlay overrides."""

    def __init__(self, spec, breakage):
        self.spec = dict(spec)
        self.breakage = breakage
        self.replicas = {}  # env -> replica count (default gen_repo.REPLICAS[env])
        self.mem_req = {}   # env -> base mem_req (MiB) the overlay's patch is scaled from (default spec's)

    def files(self):
        """Repo-relative path -> content of every file of the service."""
        n = self.spec["name"]
        out = {}
        for fname, text in gen_repo.base_files(self.spec).items():
            out[f"apps/{n}/base/{fname}"] = text
        for env in ENVS:
            spec = dict(self.spec)
            if env in self.mem_req:
                spec["mem_req"] = self.mem_req[env]
            for fname, text in gen_repo.overlay_files(spec, env, self.breakage).items():
                if fname == "patch.yaml" and env in self.replicas:
                    text, k = re.subn(r"(?m)^  replicas: \d+$", f"  replicas: {self.replicas[env]}", text)
                    assert k == 1, "gen_repo patch.yaml layout changed"
                out[f"apps/{n}/overlays/{env}/{fname}"] = text
        return out

    def edit(self, rng, kind):
        """Applies one edit; returns a commit-message fragment."""
        s, n = self.spec, self.spec["name"]
        if kind == "release":
            major, minor, patch = (int(x) for x in s["tag"].split("."))
            if rng.random() < 0.25:
                minor, patch = minor + 1, 0
            else:
                patch += 1
            s["tag"] = f"{major}.{minor}.{patch}"
            return f"{n}: release {s['tag']}"
        if kind == "replicas":
            env = rng.choice(ENVS)
            cur = self.replicas.get(env, gen_repo.REPLICAS[env])
            self.replicas[env] = rng.choice([r for r in range(1, 9) if r != cur])
            return f"{n}: {env} replicas {cur} -> {self.replicas[env]}"
        if kind == "memory":
            env = rng.choice(ENVS)
            cur = self.mem_req.get(env, s["mem_req"])
            self.mem_req[env] = rng.choice([m for m in (128, 192, 256, 384, 512, 768, 1024) if m != cur])
            return f"{n}: {env} memory from base {cur}Mi -> {self.mem_req[env]}Mi"
        if kind == "env-var":
            s["env_count"] += 1
            return f"{n}: add env VAR_{s['env_count'] - 1}"
        if kind == "base-resources":
            if rng.random() < 0.5:
                s["cpu_req"] = rng.choice([c for c in (100, 200, 250, 400, 500, 750) if c != s["cpu_req"]])
                return f"{n}: base cpu request {s['cpu_req']}m"
            s["mem_req"] = rng.choice([m for m in (128, 256, 384, 512, 768) if m != s["mem_req"]])
            return f"{n}: base memory request {s['mem_req']}Mi"
        raise ValueError(kind)


def kustomizations(files):
    """Kustomization dirs (bases and overlays) present in `files`, sorted."""
    return sorted({os.path.dirname(p) for p in files if p.endswith("/kustomization.yaml")})


def affected(path):
    """Kustomization dirs whose inputs include `path` (the layout's only cross-directory reference is an overlay's
    `../../base`)."""
    parts = path.split("/")
    if parts[2] == "base":
        base = "/".join(parts[:3])
        return [base] + [f"{'/'.join(parts[:2])}/overlays/{env}" for env in ENVS]
    return ["/".join(parts[:4])]


def input_digest(kdir, files):
    """Digest over the files a kustomization reads (its dir and, for an overlay, the base), paths included."""
    svc_root = "/".join(kdir.split("/")[:2])
    dirs = {kdir, f"{svc_root}/base"}
    h = hashlib.sha256()
    for p in sorted(files):
        if os.path.dirname(p) in dirs:
            h.update(p.encode() + b"\0" + files[p].encode() + b"\0")
    return h.hexdigest()


def git(repo, *args, env=None):
    return subprocess.run(["git", "-C", repo, *args], check=True, env=env, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="directory to create (emptied first if it exists): OUT/repo, OUT/pairs.json")
    ap.add_argument("--commits", type=int, default=300)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if args.commits < 1 or args.services < 2:
        ap.error("need --commits >= 1 and --services >= 2")

    repo = os.path.join(args.out, "repo")
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(repo)

    # The same specs and broken services as `gen_repo.py --services N --seed S` writes.
    rng = random.Random(args.seed)
    specs = [gen_repo.service_spec(rng, i) for i in range(args.services)]
    broken_idx = sorted(rng.sample(range(args.services), min(len(gen_repo.BREAKAGES), args.services)))
    broken = {i: gen_repo.BREAKAGES[k] for k, i in enumerate(broken_idx)}
    services = [Service(s, broken.get(i)) for i, s in enumerate(specs)]
    hist_rng = random.Random(f"history-{args.seed}")

    # Git isolated from the user's and system's config; deterministic identities and dates.
    base_env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C", TZ="UTC")
    git(repo, "init", "-q", "-b", "main", env=base_env)
    for k, v in (("commit.gpgsign", "false"), ("core.hooksPath", os.devnull), ("gc.auto", "0")):
        git(repo, "config", k, v, env=base_env)

    current = {}  # path -> content as committed
    per_commit = []
    seen_states = set()  # (kustomization dir, input digest)
    when = START
    for c in range(args.commits):
        if c == 0:
            touched, message = list(range(len(services))), f"Add {len(services)} services"
        else:
            k = 1 if hist_rng.random() < 0.7 else 2
            touched = sorted(hist_rng.sample(range(len(services)), k))
            parts = []
            for i in touched:
                kind = hist_rng.choices([e for e, _ in EDITS], weights=[w for _, w in EDITS])[0]
                parts.append(services[i].edit(hist_rng, kind))
            message = "; ".join(parts)
        new = dict(current)
        for i in touched:
            new.update(services[i].files())
        changed_files = sorted(p for p in new if current.get(p) != new[p])
        assert changed_files, f"commit {c}: nothing changed ({message})"
        for p in changed_files:
            gen_repo.write(os.path.join(repo, p), new[p])
        changed = sorted({k for p in changed_files for k in affected(p)})
        current = new
        for kdir in changed:
            seen_states.add((kdir, input_digest(kdir, current)))

        if c:
            when += datetime.timedelta(hours=hist_rng.randint(2, 6), minutes=hist_rng.randrange(60))
        name, email = AUTHORS[hist_rng.randrange(len(AUTHORS))] if c else AUTHORS[0]
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        env = dict(base_env, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name,
                   GIT_COMMITTER_EMAIL=email, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        git(repo, "add", "-A", env=env)
        git(repo, "commit", "-q", "-m", message, env=env)
        sha = git(repo, "rev-parse", "HEAD", env=env)
        per_commit.append({"commit": sha, "time": stamp, "changed": len(changed),
                           "files": len(changed_files), "summary": message})

    nk = len(kustomizations(current))
    assert nk == args.services * (1 + len(ENVS))
    pairs = sum(p["changed"] for p in per_commit)
    result = {
        "commits": args.commits,
        "services": args.services,
        "seed": args.seed,
        "kustomizations": nk,
        "naive": args.commits * nk,
        "pairs": pairs,
        "pairs_after_first": pairs - per_commit[0]["changed"],
        "distinct_inputs": len(seen_states),
        "broken": {specs[i]["name"]: broken[i] for i in broken_idx},
        "per_commit": per_commit,
    }
    with open(os.path.join(args.out, "pairs.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"gen_history: {args.commits} commits, {args.services} services, {nk} kustomizations in {repo}; "
          f"(commit, changed kustomization) pairs: {pairs} (distinct inputs {len(seen_states)}); "
          f"naive {args.commits * nk}", file=sys.stderr)


if __name__ == "__main__":
    main()
