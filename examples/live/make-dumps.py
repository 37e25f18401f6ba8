#!/usr/bin/env python3
"""Builds examples/live/<env>/objects.yaml: what `kubectl get -o yaml` would print for the example repo's
objects in each environment's cluster, shaped like a real API server's answers (defaulted fields, status,
canonical quantities, uid/resourceVersion, managedFields with several managers), plus the hand changes the
quick start shows as live drift:

  production  inventory-service: scaled to 6 replicas by kubectl-scale during an incident (Git: 3)
  production  inventory-service: memory limit edited to 1Gi by kubectl-edit (Git: 512Mi)
  production  checkout-service:  env var DEBUG_SQL added by kubectl-edit (not in Git)
  production  PodDisruptionBudget notifications-service deleted by hand (in Git)
  staging     Deployment checkout-service-debug created by hand with the service's tracking label

Rerun after changing examples/infra:  python3 examples/live/make-dumps.py   (needs kubectl and PyYAML;
it writes JSON, which is YAML too).
"""
import copy, hashlib, json, os, subprocess, sys

import yaml  # PyYAML, only to regenerate the dumps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(ROOT, "examples", "infra")
OUT = os.path.join(ROOT, "examples", "live")
ENVS = ["dev", "staging", "production"]
ARGO_TIME = "2026-11-18T15:35:00Z"


def render(overlay):
    text = subprocess.run(["kubectl", "kustomize", overlay], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def canonical_quantity(q):
    # The API server writes quantities canonically: 1000m -> 1, 0.5 -> 500m, 1024Mi -> 1Gi.
    s = str(q)
    if s.endswith("m") and s[:-1].isdigit() and int(s[:-1]) % 1000 == 0:
        return str(int(s[:-1]) // 1000)
    if s.endswith("Mi") and s[:-2].isdigit() and int(s[:-2]) % 1024 == 0:
        return str(int(s[:-2]) // 1024) + "Gi"
    try:
        f = float(s)
        if f != int(f):
            return str(int(round(f * 1000))) + "m"
        return str(int(f))
    except ValueError:
        return s


def defaults_container(c):
    c.setdefault("imagePullPolicy", "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for p in c.get("ports", []):
        p.setdefault("protocol", "TCP")
    for kind in ("limits", "requests"):
        for k, v in list(c.get("resources", {}).get(kind, {}).items()):
            c["resources"][kind][k] = canonical_quantity(v)
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        p = c.get(probe)
        if p:
            for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
                p.setdefault(k, v)
            if "httpGet" in p:
                p["httpGet"].setdefault("scheme", "HTTP")


def defaults_pod(spec):
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        defaults_container(c)


def fields_of(value):
    """A managedFields fieldsV1 tree owning every field of `value` (lists of named items by key)."""
    if isinstance(value, dict):
        return {f"f:{k}": fields_of(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        out = {}
        for i in value:
            if "name" in i:
                key = {"name": i["name"]}
            elif "containerPort" in i:
                key = {"containerPort": i["containerPort"], "protocol": i.get("protocol", "TCP")}
            elif "port" in i:
                key = {"port": i["port"], "protocol": i.get("protocol", "TCP")}
            else:
                return {}
            out["k:" + json.dumps(key, separators=(",", ":"))] = dict(fields_of(i), **{".": {}})
        return out
    return {}


def serverize(o, env, n):
    git = copy.deepcopy(o)
    o = copy.deepcopy(o)
    meta = o["metadata"]
    uid = hashlib.sha1(f"{env}/{o['kind']}/{meta['name']}".encode()).hexdigest()
    meta["uid"] = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}"
    meta["resourceVersion"] = str(100000 + n)
    meta["creationTimestamp"] = "2026-02-02T09:00:00Z"
    meta.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = f"{o.get('metadata', {}).get('labels', {}).get('app.kubernetes.io/name', meta['name'])}-{env}:{o['apiVersion'].split('/')[0] if '/' in o['apiVersion'] else ''}/{o['kind']}:{meta.get('namespace', '')}/{meta['name']}"
    git_fields = fields_of({k: v for k, v in git.items() if k in ("metadata", "spec", "data", "rules")})
    git_fields.get("f:metadata", {}).pop("f:namespace", None)
    managed = [{"apiVersion": o["apiVersion"], "fieldsType": "FieldsV1", "fieldsV1": git_fields,
                "manager": "argocd-controller", "operation": "Apply", "time": ARGO_TIME}]
    kind = o["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        meta["generation"] = 3
        spec = o["spec"]
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600) if kind == "Deployment" else None
        if kind == "Deployment":
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        defaults_pod(spec["template"]["spec"])
        replicas = spec.get("replicas", 1)
        spec.setdefault("replicas", replicas)
        o["status"] = {"observedGeneration": 3, "replicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas, "updatedReplicas": replicas}
        managed.append({"apiVersion": o["apiVersion"], "fieldsType": "FieldsV1", "manager": "kube-controller-manager",
                        "operation": "Update", "subresource": "status", "time": ARGO_TIME,
                        "fieldsV1": {"f:status": {"f:availableReplicas": {}, "f:readyReplicas": {}, "f:replicas": {}}}})
    elif kind == "CronJob":
        defaults_pod(o["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        o["spec"].setdefault("concurrencyPolicy", "Allow")
        o["spec"].setdefault("successfulJobsHistoryLimit", 3)
        o["spec"].setdefault("failedJobsHistoryLimit", 1)
        o["spec"].setdefault("suspend", False)
    elif kind == "Service":
        o["spec"].setdefault("type", "ClusterIP")
        o["spec"].setdefault("clusterIP", "10.96.%d.%d" % (n // 200, n % 200 + 10))
        o["spec"].setdefault("sessionAffinity", "None")
        for p in o["spec"].get("ports", []):
            p.setdefault("protocol", "TCP")
    meta["managedFields"] = managed
    return o


def hand_changes(env, objects):
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    if env == "production":
        inv = by[("Deployment", "inventory-service")]
        inv["spec"]["replicas"] = 6
        inv["status"].update(replicas=6, readyReplicas=6, availableReplicas=6, updatedReplicas=6)
        inv["metadata"]["managedFields"].append({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-scale",
            "operation": "Update", "subresource": "scale", "time": "2026-11-20T03:12:44Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}})
        c = [c for c in inv["spec"]["template"]["spec"]["containers"] if c["name"] == "inventory"][0]
        c["resources"]["limits"]["memory"] = "1Gi"
        inv["metadata"]["managedFields"].append({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit",
            "operation": "Update", "time": "2026-11-20T03:20:05Z",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"inventory"}': {"f:resources": {"f:limits": {"f:memory": {}}}}}}}}}})
        co = by[("Deployment", "checkout-service")]
        cc = co["spec"]["template"]["spec"]["containers"][0]
        cc.setdefault("env", []).append({"name": "DEBUG_SQL", "value": "true"})
        co["metadata"]["managedFields"].append({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit",
            "operation": "Update", "time": "2026-11-21T10:02:31Z",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"%s"}' % cc["name"]: {"f:env": {'k:{"name":"DEBUG_SQL"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}})
        objects.remove(by[("PodDisruptionBudget", "notifications-service")])
    if env == "staging":
        base = copy.deepcopy(by[("Deployment", "checkout-service")])
        base["metadata"]["name"] = "checkout-service-debug"
        base["metadata"]["labels"]["app.kubernetes.io/instance"] = "checkout-service"
        base["metadata"]["annotations"].pop("argocd.argoproj.io/tracking-id", None)
        base["metadata"]["managedFields"] = [{"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-create",
            "operation": "Update", "time": "2026-11-19T16:40:00Z", "fieldsV1": fields_of({"spec": base["spec"]})}]
        objects.append(base)
    return objects


def main():
    for env in ENVS:
        objects = []
        apps = os.path.join(INFRA, "apps")
        n = 0
        for svc in sorted(os.listdir(apps)):
            overlay = os.path.join(apps, svc, "overlays", env)
            if not os.path.isdir(overlay):
                continue
            for o in render(overlay):
                if o["kind"] == "Namespace":
                    continue
                n += 1
                o.setdefault("metadata", {}).setdefault("labels", {}).setdefault("app.kubernetes.io/instance", f"{svc}-{env}")
                objects.append(serverize(o, env, n))
        objects = hand_changes(env, objects)
        os.makedirs(os.path.join(OUT, env), exist_ok=True)
        doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects}
        with open(os.path.join(OUT, env, "objects.yaml"), "w") as f:
            f.write("# kubectl get deploy,sts,cronjob,svc,ing,cm,hpa,pdb,vs,dr -o yaml  (generated by examples/live/make-dumps.py)\n")
            f.write(json.dumps(doc, indent=1, sort_keys=True))
            f.write("\n")
        print(env, len(objects), "objects")


if __name__ == "__main__":
    sys.exit(main())
