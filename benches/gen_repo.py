#!/usr/bin/env python3
"""Generates a synthetic Kustomize repo for benchmarking `envparity check`.

Layout, per service:

    apps/<svc>/base/{kustomization.yaml,deployment.yaml,service.yaml,ingress.yaml}
    apps/<svc>/overlays/{dev,staging,production}/{kustomization.yaml,patch.yaml}

The base holds a Deployment (ports, env, resources, readiness/liveness probes), a Service, an Ingress and a
configMapGenerator. Each overlay sets `namespace:`, `images:` (newTag), sometimes `namePrefix:` (dev only),
and patches replicas and resources, scaled proportionally per environment (requests/limits ratio kept, limits
grow dev -> production), so a service is at parity unless it is one of the few deliberately broken ones
(listed on stderr, chosen by the seed).

With --shared-names every service is a copy that keeps the object names: each one's Deployment, Service,
Ingress, ConfigMap, PodDisruptionBudget and overlay namespaces are called `web` (`web-config`,
`web-dev`, ...), as in repos where every app has its `Deployment/web`. Images, hosts and container names stay
per service, so the same services are broken the same way and `check` finds the same problems.

Python 3 standard library only; output is deterministic for a given --services/--seed/--shared-names.

    python3 benches/gen_repo.py OUT_DIR [--services 100] [--seed 42] [--shared-names]
"""

import argparse
import os
import random
import shutil
import sys

ENVS = ("dev", "staging", "production")
# Scale of replicas and resources per environment (limits grow towards production: no inversion, < 4x).
SCALE = {"dev": 0.5, "staging": 0.75, "production": 1.0}
REPLICAS = {"dev": 1, "staging": 2, "production": 3}

# Deliberate non-parity, one kind per broken service.
BREAKAGES = (
    "image-tag",        # staging runs another tag                 -> image (block)
    "env-var",          # production adds an env var               -> env-names (block)
    "probe",            # dev has no liveness probe                -> probes (block)
    "limit-inversion",  # dev memory limit above production's      -> limit-inversion (block)
    "ingress-path",     # staging ingress path differs             -> ingress-structure (block)
    "extra-resource",   # production adds a PodDisruptionBudget     -> resource-set / overlay-adds-resource (warn)
    "ratio",            # production requests far below limits     -> request-limit-ratio (warn)
)


def cpu(millis):
    return f"{int(round(millis))}m"


def mem(mib):
    return f"{int(round(mib))}Mi"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def service_spec(rng, i, shared_names=False):
    name = f"svc-{i:03d}"
    return {
        "name": name,
        # What the service's objects (and namespaces) are called.
        "obj": "web" if shared_names else name,
        "port": rng.choice((8080, 8000, 3000, 9090)),
        "cpu_req": rng.choice((100, 200, 250, 400, 500)),
        "mem_req": rng.choice((128, 256, 384, 512)),
        "tag": f"1.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}",
        "env_count": rng.randrange(2, 6),
        "dev_prefix": rng.random() < 0.3,
        "path": rng.choice(("/", "/api", f"/{name}")),
    }


def base_files(s):
    n = s["name"]
    o = s.get("obj", n)
    env_lines = "".join(
        f"            - name: VAR_{k}\n              value: \"value-{k}\"\n" for k in range(s["env_count"])
    )
    deployment = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {o}
  labels:
    app.kubernetes.io/name: {o}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {o}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {o}
    spec:
      containers:
        - name: {n}
          image: registry.example.com/acme/{n}:0.0.0
          ports:
            - name: http
              containerPort: {s["port"]}
          env:
            - name: SERVICE_NAME
              value: {n}
{env_lines}            - name: LOG_LEVEL
              valueFrom:
                configMapKeyRef:
                  name: {o}-config
                  key: LOG_LEVEL
          envFrom:
            - configMapRef:
                name: {o}-config
          resources:
            requests:
              cpu: {cpu(s["cpu_req"])}
              memory: {mem(s["mem_req"])}
            limits:
              cpu: {cpu(s["cpu_req"] * 2)}
              memory: {mem(s["mem_req"] * 2)}
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 10
            periodSeconds: 20
"""
    service = f"""apiVersion: v1
kind: Service
metadata:
  name: {o}
  labels:
    app.kubernetes.io/name: {o}
spec:
  selector:
    app.kubernetes.io/name: {o}
  ports:
    - name: http
      port: 80
      targetPort: http
"""
    ingress = f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {o}
spec:
  ingressClassName: nginx
  rules:
    - host: {n}.example.com
      http:
        paths:
          - path: {s["path"]}
            pathType: Prefix
            backend:
              service:
                name: {o}
                port:
                  name: http
  tls:
    - hosts:
        - {n}.example.com
      secretName: {o}-tls
"""
    kustomization = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      app.kubernetes.io/part-of: acme
resources:
  - deployment.yaml
  - service.yaml
  - ingress.yaml
configMapGenerator:
  - name: {o}-config
    literals:
      - LOG_LEVEL=info
      - SERVICE_NAME={n}
      - FEATURE_FLAGS=a,b,c
"""
    return {
        "kustomization.yaml": kustomization,
        "deployment.yaml": deployment,
        "service.yaml": service,
        "ingress.yaml": ingress,
    }


def overlay_files(s, env, breakage):
    n = s["name"]
    o = s.get("obj", n)
    f = SCALE[env]
    cpu_req, mem_req = s["cpu_req"] * f, s["mem_req"] * f
    cpu_lim, mem_lim = cpu_req * 2, mem_req * 2
    if breakage == "limit-inversion" and env == "dev":
        mem_req, mem_lim = s["mem_req"] * 2, s["mem_req"] * 4
    if breakage == "ratio" and env == "production":
        cpu_req = cpu_lim / 8
    extra_container = ""
    if breakage == "env-var" and env == "production":
        extra_container += "          env:\n            - name: EXTRA_DEBUG\n              value: \"1\"\n"
    if breakage == "probe" and env == "dev":
        extra_container += "          livenessProbe: null\n"
    patch = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {o}
spec:
  replicas: {REPLICAS[env]}
  template:
    spec:
      containers:
        - name: {n}
          resources:
            requests:
              cpu: {cpu(cpu_req)}
              memory: {mem(mem_req)}
            limits:
              cpu: {cpu(cpu_lim)}
              memory: {mem(mem_lim)}
{extra_container}"""
    files = {"patch.yaml": patch}
    patches = "  - path: patch.yaml\n"
    resources = "  - ../../base\n"
    if breakage == "ingress-path" and env == "staging":
        files["ingress-patch.yaml"] = f"""- op: replace
  path: /spec/rules/0/http/paths/0/path
  value: /changed
"""
        patches += f"  - path: ingress-patch.yaml\n    target:\n      kind: Ingress\n      name: {o}\n"
    if breakage == "extra-resource" and env == "production":
        files["pdb.yaml"] = f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {o}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {o}
"""
        resources += "  - pdb.yaml\n"
    tag = s["tag"]
    if breakage == "image-tag" and env == "staging":
        tag += "-rc1"
    prefix = "namePrefix: dev-\n" if env == "dev" and s["dev_prefix"] else ""
    files["kustomization.yaml"] = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
{resources}namespace: {o}-{env}
{prefix}images:
  - name: registry.example.com/acme/{n}
    newTag: "{tag}"
patches:
{patches}"""
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="directory to create (emptied first if it exists)")
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shared-names", action="store_true",
                    help="every service names its objects and namespaces `web` (web, web-config, web-dev, ...)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    specs = [service_spec(rng, i, args.shared_names) for i in range(args.services)]
    # A handful of broken services, one per breakage kind (fewer when there are fewer services).
    broken_idx = sorted(rng.sample(range(args.services), min(len(BREAKAGES), args.services)))
    broken = {i: BREAKAGES[k] for k, i in enumerate(broken_idx)}
    for i, s in enumerate(specs):
        root = os.path.join(args.out, "apps", s["name"])
        for fname, text in base_files(s).items():
            write(os.path.join(root, "base", fname), text)
        for env in ENVS:
            for fname, text in overlay_files(s, env, broken.get(i)).items():
                write(os.path.join(root, "overlays", env, fname), text)
    for i in broken_idx:
        print(f"gen_repo: {specs[i]['name']} broken: {broken[i]}", file=sys.stderr)
    print(f"gen_repo: {args.services} services, {args.services * (1 + len(ENVS))} kustomizations in {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
