#!/usr/bin/env python3
"""Builds examples/argocd-live/<env>/objects.yaml: what `kubectl get deploy,svc -A -o yaml` would print in each
environment's cluster for the Argo CD-mapped example repo examples/argocd, whose overlays set no namespace.

Each overlay is rendered and placed where the repo's ApplicationSet (examples/argocd/argocd/shop.yaml) sends
it: apps/<service>/overlays/<env> to the namespace shop-<env>, applied by Argo CD (server-side apply, field
manager argocd-controller, annotation tracking). Objects are shaped like a real API server's answers with
the helpers of examples/live/make-dumps.py (defaults, status, uid/resourceVersion, managedFields); the
managedFields entries are in the API server's order (Apply before Update, then by time, then by manager).

The hand changes `envparity drift` finds:

  production  storefront: scaled to 8 replicas by kubectl-scale during a sale (Git: 3)
  production  orders:     memory limit edited to 2Gi by kubectl-edit after an OOM kill (Git: 1Gi)
  staging     orders-debug: a copy of the orders Deployment created by hand (kubectl-create), still carrying
              Argo CD's tracking annotation

And what it must not report: the same-named storefront and orders Deployments of a load test in the staging
cluster's namespace shop-loadtest, and the ingress controller in production's ingress-nginx namespace.

Rerun after changing examples/argocd:  python3 examples/argocd-live/make-dumps.py   (needs kubectl and PyYAML;
it writes JSON, which is YAML too).
"""
import copy, importlib.util, json, os, sys

sys.dont_write_bytecode = True  # importing the other generator must leave no __pycache__ in examples/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPO = os.path.join(ROOT, "examples", "argocd")
ENVS = ["staging", "production"]
SCALED = "2026-11-27T19:04:12Z"
EDITED = "2026-11-28T02:41:55Z"
CREATED = "2026-11-25T14:20:07Z"

# The same server shapes as the quick start's dumps.
spec = importlib.util.spec_from_file_location("live_dumps", os.path.join(ROOT, "examples", "live", "make-dumps.py"))
live = importlib.util.module_from_spec(spec)
spec.loader.exec_module(live)


def namespace(env):
    # argocd/shop.yaml: destination.namespace 'shop-{{path.basename}}'.
    return f"shop-{env}"


def server_order(entries):
    # The API server sorts managedFields so (apiserver fieldmanager, sortEncodedManagedFields).
    return sorted(entries, key=lambda e: (e["operation"], e["time"], e["manager"], e["apiVersion"], e.get("subresource", "")))


def controller_entries(time, revision_time=None):
    """The deployment controller's entries: the revision annotation and the status."""
    return [
        {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager", "operation": "Update",
         "time": revision_time or time,
         "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}},
        {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager", "operation": "Update",
         "subresource": "status", "time": time,
         "fieldsV1": {"f:status": {"f:availableReplicas": {}, "f:readyReplicas": {}, "f:replicas": {}}}},
    ]


def applied(o, env, n):
    o = copy.deepcopy(o)
    o["metadata"]["namespace"] = namespace(env)
    o = live.serverize(o, env, n)
    if o["kind"] == "Deployment":
        o["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
        managed = [e for e in o["metadata"]["managedFields"] if e.get("subresource") != "status"]
        o["metadata"]["managedFields"] = managed + controller_entries(live.ARGO_TIME)
    o["metadata"]["managedFields"] = server_order(o["metadata"]["managedFields"])
    return o


def gitops_entry(o):
    return next(e for e in o["metadata"]["managedFields"] if e["manager"] == "argocd-controller")


def container(o, name):
    return next(c for c in o["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def hand_changes(env, objects):
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    if env == "production":
        sf = by[("Deployment", "storefront")]
        sf["spec"]["replicas"] = 8
        sf["status"].update(replicas=8, readyReplicas=8, availableReplicas=8, updatedReplicas=8)
        # An Update takes the field over from the applier.
        gitops_entry(sf)["fieldsV1"]["f:spec"].pop("f:replicas")
        sf["metadata"]["managedFields"].append({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-scale",
            "operation": "Update", "subresource": "scale", "time": SCALED, "fieldsV1": {"f:spec": {"f:replicas": {}}}})
        sf["metadata"]["managedFields"] = server_order(sf["metadata"]["managedFields"])

        orders = by[("Deployment", "orders")]
        container(orders, "orders")["resources"]["limits"]["memory"] = "2Gi"
        key = 'k:{"name":"orders"}'
        fields = gitops_entry(orders)["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][key]
        fields["f:resources"]["f:limits"].pop("f:memory")
        # A template change is a new rollout: revision 2, annotated by the controller in the same second.
        orders["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
        orders["metadata"]["generation"] = 4
        orders["metadata"]["managedFields"] = [e for e in orders["metadata"]["managedFields"]
                                               if e["manager"] != "kube-controller-manager"]
        orders["metadata"]["managedFields"] += controller_entries(EDITED) + [
            {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit", "operation": "Update",
             "time": EDITED, "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                 key: {"f:resources": {"f:limits": {"f:memory": {}}}}}}}}}}]
        orders["metadata"]["managedFields"] = server_order(orders["metadata"]["managedFields"])
    if env == "staging":
        # `kubectl get deploy orders -o yaml`, renamed, `kubectl create -f`: Argo CD's annotation came along.
        debug = copy.deepcopy(by[("Deployment", "orders")])
        meta = debug["metadata"]
        meta["name"] = "orders-debug"
        meta["uid"] = "5b0e2f4c-7d1a-4c3e-9f8b-2a6d1e0c9b47"
        meta["resourceVersion"] = "284113"
        meta["creationTimestamp"] = CREATED
        meta["generation"] = 1
        debug["spec"]["replicas"] = 1
        debug["status"].update(replicas=1, readyReplicas=1, availableReplicas=1, updatedReplicas=1, observedGeneration=1)
        c = container(debug, "orders")
        c["env"].append({"name": "LOG_LEVEL", "value": "debug"})
        created = live.fields_of({"metadata": {"annotations": {k: v for k, v in meta["annotations"].items()
                                                                if k != "deployment.kubernetes.io/revision"},
                                               "labels": meta["labels"]},
                                  "spec": debug["spec"]})
        # The controller annotates the new Deployment in the second it is created: same-second entries are
        # ordered by manager name, so its entry comes before kubectl-create's.
        meta["managedFields"] = server_order(controller_entries(CREATED) + [
            {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-create", "operation": "Update",
             "time": CREATED, "fieldsV1": created}])
        objects.append(debug)
    return objects


def others(env, n):
    """Objects of other namespaces in the same cluster."""
    out = []
    if env == "staging":
        # A load test's copies of the shop, under the same names, deployed by its own Argo CD Application.
        for svc, replicas in (("storefront", 12), ("orders", 6)):
            for o in live.render(os.path.join(REPO, "apps", svc, "overlays", "staging")):
                n += 1
                o["metadata"]["namespace"] = "shop-loadtest"
                if o["kind"] == "Deployment":
                    o["spec"]["replicas"] = replicas
                o = live.serverize(o, "loadtest", n)
                o["metadata"]["managedFields"] = server_order(o["metadata"]["managedFields"])
                out.append(o)
    if env == "production":
        n += 1
        o = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx",
                          "labels": {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "ingress-nginx"}},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
                      "template": {"metadata": {"labels": {"app.kubernetes.io/name": "ingress-nginx"}},
                                   "spec": {"containers": [{"name": "controller",
                                                            "image": "registry.k8s.io/ingress-nginx/controller:v1.12.1",
                                                            "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}}}]}}}}
        o = live.serverize(o, "production", n)
        o["metadata"]["annotations"].pop("argocd.argoproj.io/tracking-id", None)
        for e in o["metadata"]["managedFields"]:
            if e["manager"] == "argocd-controller":
                e["manager"] = "helm"
                e["operation"] = "Update"
        o["metadata"]["managedFields"] = server_order(o["metadata"]["managedFields"])
        out.append(o)
    return out


def main():
    for env in ENVS:
        objects, n = [], 0
        apps = os.path.join(REPO, "apps")
        for svc in sorted(os.listdir(apps)):
            overlay = os.path.join(apps, svc, "overlays", env)
            if not os.path.isdir(overlay):
                continue
            for o in live.render(overlay):
                n += 1
                objects.append(applied(o, env, n))
        objects = hand_changes(env, objects) + others(env, n)
        os.makedirs(os.path.join(HERE, env), exist_ok=True)
        doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects}
        with open(os.path.join(HERE, env, "objects.yaml"), "w") as f:
            f.write("# kubectl get deploy,svc -A -o yaml  (generated by examples/argocd-live/make-dumps.py)\n")
            f.write(json.dumps(doc, indent=1, sort_keys=True))
            f.write("\n")
        print(env, len(objects), "objects")


if __name__ == "__main__":
    sys.exit(main())
