#!/usr/bin/env bash
# make-demo-repo.sh DIR
#
# Creates a new git repository at DIR whose history tells the story of examples/infra, commit by commit,
# from February to November 2026, so that `envparity backfill` and `envparity history` have a past to show:
#
#   - February: six services imported, every environment at parity (inventory-service: staging and
#     production both at a 2Gi memory limit).
#   - 2026-05-15: Tom Becker cuts inventory's production memory limit from 2Gi to 512Mi in a cost review;
#     staging keeps 2Gi. From that commit on `limit-inversion` fires -- the OOM kill of November.
#   - Over the months every other deliberate problem of examples/infra is introduced on its own dated
#     commit, by different people, between image bumps and legitimate per-environment changes. Three
#     problems are introduced and fixed again, so the history also shows resolved findings: an env var
#     experiment in checkout dev (April), a two-week image pin of payments in production (June) and a
#     two-week release-candidate canary of checkout in staging (October-November).
#   - The last commit leaves the tree byte-identical to examples/infra (checked at the end).
#
# The result is reproducible: fixed dates, identities and time zone, no user or system git config, so every
# run produces the same commit ids. Needs bash, git and coreutils (and diff for the final check).
set -euo pipefail

export TZ=UTC LC_ALL=C
umask 022
# Nothing from the caller's git setup may change the objects: no global/system config, no hooks, no signing.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES \
    GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL \
    GIT_COMMITTER_DATE GIT_TEMPLATE_DIR 2>/dev/null || true

die() { printf 'make-demo-repo: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || { printf 'usage: %s DIR\n' "$0" >&2; exit 2; }
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/infra" && pwd) || die "examples/infra not found next to this script"
DIR=$1
if [[ -e $DIR ]]; then
    [[ -d $DIR ]] || die "$DIR exists and is not a directory"
    [[ -z $(ls -A "$DIR") ]] || die "$DIR exists and is not empty"
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

git init -q "$DIR"
git -C "$DIR" symbolic-ref HEAD refs/heads/main

# --- file helpers (paths relative to the repo root) --------------------------------------------------------

# take FILE...: the file exactly as in examples/infra.
take() {
    local f
    for f in "$@"; do
        mkdir -p "$DIR/$(dirname "$f")"
        cp "$SRC/$f" "$DIR/$f"
    done
}

# strip_header FILE: print FILE without its leading comment lines.
strip_header() {
    local line body=0
    while IFS= read -r line || [[ -n $line ]]; do
        if (( ! body )) && [[ $line == '#'* ]]; then continue; fi
        body=1
        printf '%s\n' "$line"
    done <"$1"
}

# take_bare FILE...: the file as in examples/infra minus its leading comment block. The comments that
# name envparity rules ("limit-scale warn", ...) were written after the incident: they arrive with the
# last commit, which restores them.
take_bare() {
    local f
    for f in "$@"; do
        mkdir -p "$DIR/$(dirname "$f")"
        strip_header "$SRC/$f" >"$DIR/$f"
    done
}

# put FILE <<EOF: write an intermediate version of FILE.
put() {
    mkdir -p "$DIR/$(dirname "$1")"
    cat >"$DIR/$1"
}

drop() { rm -f -- "$DIR/$1"; }

# retag SERVICE TAG: the service's base kustomization (as in examples/infra) with another image tag.
retag() {
    local f="apps/$1/base/kustomization.yaml" line n=0
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line == '    newTag: '* ]]; then line="    newTag: $2"; n=$((n + 1)); fi
        printf '%s\n' "$line"
    done <"$SRC/$f" >"$DIR/$f"
    [[ $n -eq 1 ]] || die "$f: expected exactly one newTag line"
}

# --- commits -------------------------------------------------------------------------------------------

# commit DATE WHO SUBJECT [BODY]: commit everything in the work tree, dated DATE (author and committer).
commit() {
    local date=$1 who=$2 subject=$3 body=${4:-} name email
    case $who in
        priya) name='Priya Raman' email='priya@acme.example' ;;
        tom) name='Tom Becker' email='tom@acme.example' ;;
        lena) name='Lena Ortiz' email='lena@acme.example' ;;
        bot) name='ci-bot' email='ci@acme.example' ;;
        *) die "unknown author $who" ;;
    esac
    git -C "$DIR" add -A
    local -a msg=(-m "$subject")
    [[ -z $body ]] || msg+=(-m "$body")
    GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_AUTHOR_DATE=$date \
        GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email GIT_COMMITTER_DATE=$date \
        git -C "$DIR" -c commit.gpgsign=false -c core.hooksPath=/dev/null commit -q --no-verify "${msg[@]}"
}

# bump SERVICE SHORTNAME TAG DATE: ci-bot's image bump, applied to every environment through the base.
bump() {
    retag "$1" "$3"
    commit "$4" bot "bump $2 to $3" "Image registry.acme.internal/shop/$1:$3 passed the pipeline; updated in base (all environments)."
}

# notifications-service production kustomization with a given set of patches: notif_prod PDB PATCHES PSM
notif_prod() {
    local pdb=$1 patches=$2 psm=$3 p
    {
        printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' 'namespace: production' \
            'resources:' '  - ../../base'
        [[ $pdb == no ]] || printf '%s\n' '  - pdb.yaml'
        cat <<'EOF'
labels:
  - pairs:
      environment: production
    includeTemplates: true
replicas:
  - name: notifications-service
    count: 2
configMapGenerator:
  - name: notifications-service-config
    behavior: merge
    literals:
      - QUEUE_URL=amqp://rabbitmq.production:5672/notifications
      - BATCH_SIZE=200
patches:
EOF
        for p in $patches; do printf '  - path: %s\n' "$p"; done
        if [[ -n $psm ]]; then
            printf 'patchesStrategicMerge:\n'
            for p in $psm; do printf '  - %s\n' "$p"; done
        fi
    } | put apps/notifications-service/overlays/production/kustomization.yaml
}

# === 2026-02: import, everything at parity ==================================================================

# The at-parity versions of the six services: examples/infra with the later changes undone.
import_service() {
    mkdir -p "$DIR/apps"
    cp -R "$SRC/apps/$1" "$DIR/apps/"
    local k
    for k in "$DIR/apps/$1"/base/kustomization.yaml "$DIR/apps/$1"/overlays/*/kustomization.yaml; do
        strip_header "$k" >"$k.tmp" && mv "$k.tmp" "$k"
    done
}

# --- checkout-service: older image, production HPA 3-12, no restated probe, base-sized production ---------
import_service checkout-service
retag checkout-service 2.12.3
drop apps/checkout-service/overlays/production/probes.yaml
drop apps/checkout-service/overlays/production/resources.yaml
put apps/checkout-service/overlays/production/hpa.yaml <<'EOF'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: checkout-service
spec:
  minReplicas: 3
  maxReplicas: 12
EOF
put apps/checkout-service/overlays/production/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
  - namespace.yaml
labels:
  - pairs:
      environment: production
    includeTemplates: true
configMapGenerator:
  - name: checkout-service-config
    behavior: merge
    literals:
      - CART_TTL_SECONDS=7200
patches:
  - path: hpa.yaml
  - path: ingress-host.yaml
    target:
      kind: Ingress
      name: checkout-service
EOF

# --- catalog-service: dev on the base's 1Gi with TLS, production on the base's 1Gi ------------------------
import_service catalog-service
retag catalog-service 5.1.0
drop apps/catalog-service/overlays/dev/resources.yaml
drop apps/catalog-service/overlays/production/resources.yaml
put apps/catalog-service/overlays/dev/ingress.yaml <<'EOF'
- op: replace
  path: /spec/rules/0/host
  value: shop.dev.example.com
- op: replace
  path: /spec/tls/0/hosts/0
  value: shop.dev.example.com
EOF
put apps/catalog-service/overlays/dev/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
resources:
  - ../../base
labels:
  - pairs:
      environment: dev
    includeTemplates: true
replicas:
  - name: catalog-service
    count: 1
configMapGenerator:
  - name: catalog-service-config
    behavior: merge
    literals:
      - CACHE_URL=redis://redis.dev:6379/3
      - IMAGE_CDN_URL=https://cdn.dev.example.com/catalog
patchesStrategicMerge:
  - db.yaml
patches:
  - path: ingress.yaml
    target:
      kind: Ingress
      name: catalog-service
EOF
put apps/catalog-service/overlays/production/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
labels:
  - pairs:
      environment: production
    includeTemplates: true
replicas:
  - name: catalog-service
    count: 4
configMapGenerator:
  - name: catalog-service-config
    behavior: merge
    literals:
      - CACHE_URL=redis://redis-catalog.production:6379/0
patches:
  - path: db.yaml
EOF

# --- inventory-service: staging AND production at 2Gi (load test LT-2291, promoted), 2 replicas ----------
import_service inventory-service
retag inventory-service 1.8.4
put apps/inventory-service/overlays/production/resources.yaml <<'EOF'
# LT-2291: same memory as staging, promoted after the load test.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: inventory-service
spec:
  template:
    spec:
      containers:
        - name: inventory
          resources:
            requests:
              memory: 1Gi
            limits:
              memory: 2Gi
EOF
put apps/inventory-service/overlays/production/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
labels:
  - pairs:
      environment: production
    includeTemplates: true
replicas:
  - name: inventory-service
    count: 2
configMapGenerator:
  - name: inventory-service-config
    behavior: merge
    literals:
      - DB_HOST=inventory-db.production.internal
patches:
  - path: schedule.yaml
  - path: resources.yaml
EOF

commit '2026-02-02 09:12:00 +0100' priya 'import checkout, catalog and inventory from the old deploy repo' \
    'Base + dev/staging/production overlays per service, rendered with kubectl kustomize.
Argo CD will point at apps/*/overlays/<env> once the cut-over is done.'

# --- payments-service: sidecar everywhere, no PSP_SANDBOX key, production on the base's requests -----------
import_service payments-service
retag payments-service 3.6.2
drop apps/payments-service/overlays/dev/no-sidecar.yaml
drop apps/payments-service/overlays/production/resources.yaml
put apps/payments-service/overlays/dev/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
resources:
  - ../../base
labels:
  - pairs:
      environment: dev
    includeTemplates: true
configMapGenerator:
  - name: payments-service-config
    behavior: merge
    literals:
      - PSP_BASE_URL=https://sandbox.psp.example.com/v2
      - LOG_LEVEL=debug
secretGenerator:
  - name: payments-service-psp
    behavior: replace
    literals:
      - PSP_API_KEY=sk_test_dev
      - PSP_WEBHOOK_SECRET=whsec_dev
patches:
  - path: hpa.yaml
  - path: virtualservice.yaml
    target:
      kind: VirtualService
      name: payments-service
EOF
put apps/payments-service/overlays/staging/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
resources:
  - ../../base
labels:
  - pairs:
      environment: staging
    includeTemplates: true
configMapGenerator:
  - name: payments-service-config
    behavior: merge
    literals:
      - PSP_BASE_URL=https://sandbox.psp.example.com/v2
secretGenerator:
  - name: payments-service-psp
    behavior: replace
    literals:
      - PSP_API_KEY=sk_test_staging
      - PSP_WEBHOOK_SECRET=whsec_staging
patches:
  - path: virtualservice.yaml
    target:
      kind: VirtualService
      name: payments-service
  - path: destinationrule.yaml
    target:
      kind: DestinationRule
      name: payments-service
EOF
payments_prod() { # payments_prod [PINNED_TAG]
    {
        cat <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
labels:
  - pairs:
      environment: production
    includeTemplates: true
EOF
        if [[ -n ${1:-} ]]; then
            printf '%s\n' 'images:' '  - name: registry.acme.internal/shop/payments-service' "    newTag: $1"
        fi
        cat <<'EOF'
secretGenerator:
  - name: payments-service-psp
    behavior: replace
    literals:
      - PSP_API_KEY=sealed-in-real-life
      - PSP_WEBHOOK_SECRET=sealed-in-real-life
patches:
  - path: hpa.yaml
  - path: destinationrule.yaml
    target:
      kind: DestinationRule
      name: payments-service
EOF
    } | put apps/payments-service/overlays/production/kustomization.yaml
}
payments_prod

# --- search-service: same image and probes everywhere, dev keeps its cpu limit, one cert issuer -----------
import_service search-service
retag search-service 3.1.4
drop apps/search-service/overlays/production/liveness.yaml
put apps/search-service/overlays/dev/statefulset.yaml <<'EOF'
- op: replace
  path: /spec/volumeClaimTemplates/0/spec/resources/requests/storage
  value: 1Gi
EOF
for env in dev staging; do
    put apps/search-service/overlays/$env/ingress.yaml <<EOF
- op: replace
  path: /spec/rules/0/host
  value: shop.$env.example.com
- op: replace
  path: /spec/tls/0/hosts/0
  value: shop.$env.example.com
EOF
done
search_prod() { # search_prod LIVENESS(yes|no) PINNED_TAG
    {
        cat <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
labels:
  - pairs:
      environment: production
    includeTemplates: true
EOF
        if [[ -n ${2:-} ]]; then
            printf '%s\n' 'images:' '  - name: registry.acme.internal/shop/search-service' "    newTag: $2"
        fi
        printf '%s\n' 'replicas:' '  - name: search-service' '    count: 3'
        [[ $1 == no ]] || printf '%s\n' 'patchesStrategicMerge:' '  - liveness.yaml'
        cat <<'EOF'
patches:
  - path: statefulset.yaml
    target:
      kind: StatefulSet
      name: search-service
  - path: java-opts.yaml
EOF
    } | put apps/search-service/overlays/production/kustomization.yaml
}
search_prod no

# --- notifications-service: production with 4 patches, no PodDisruptionBudget ----------------------------
import_service notifications-service
retag notifications-service 0.17.0
for f in anti-affinity topology-spread priority-class service-annotations pdb safe-to-evict revision-history strategy; do
    drop apps/notifications-service/overlays/production/$f.yaml
done
notif_prod no 'smtp.yaml node-selector.yaml tolerations.yaml grace-period.yaml' ''

commit '2026-02-03 10:41:00 +0100' priya 'import payments, search and notifications' \
    'Same layout as the first batch. payments keeps its Istio objects next to the Deployment.'

# === the months in between ==================================================================================

bump catalog-service catalog 5.2.0 '2026-02-10 06:02:00 +0000'

take apps/checkout-service/overlays/production/probes.yaml
put apps/checkout-service/overlays/production/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
  - namespace.yaml
labels:
  - pairs:
      environment: production
    includeTemplates: true
configMapGenerator:
  - name: checkout-service-config
    behavior: merge
    literals:
      - CART_TTL_SECONDS=7200
patches:
  - path: hpa.yaml
  - path: probes.yaml
    target:
      kind: Deployment
      name: checkout-service
  - path: ingress-host.yaml
    target:
      kind: Ingress
      name: checkout-service
EOF
commit '2026-02-17 14:25:00 +0100' tom 'checkout: spell out the production readiness probe (port 8080)' \
    'Same probe as the base, written with the port number for the new ingress health checks.'

take apps/checkout-service/overlays/production/hpa.yaml
commit '2026-02-24 11:03:00 +0100' lena 'checkout: production HPA 4-20 for the spring campaign'

bump inventory-service inventory 1.9.0 '2026-03-03 06:01:00 +0000'

take apps/catalog-service/overlays/production/resources.yaml
take_bare apps/catalog-service/overlays/production/kustomization.yaml
commit '2026-03-10 16:47:00 +0100' lena 'catalog: scale production memory proportionally (requests 1Gi, limits 2Gi)' \
    'The nightly catalog import needs more heap in production; requests and limits doubled together.'

take apps/payments-service/overlays/dev/no-sidecar.yaml
put apps/payments-service/overlays/dev/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
resources:
  - ../../base
labels:
  - pairs:
      environment: dev
    includeTemplates: true
configMapGenerator:
  - name: payments-service-config
    behavior: merge
    literals:
      - PSP_BASE_URL=https://sandbox.psp.example.com/v2
      - LOG_LEVEL=debug
secretGenerator:
  - name: payments-service-psp
    behavior: replace
    literals:
      - PSP_API_KEY=sk_test_dev
      - PSP_WEBHOOK_SECRET=whsec_dev
patches:
  - path: no-sidecar.yaml
  - path: hpa.yaml
  - path: virtualservice.yaml
    target:
      kind: VirtualService
      name: payments-service
EOF
commit '2026-03-24 10:18:00 +0100' lena 'payments: disable istio sidecar in dev for port-forward debugging'

bump checkout-service checkout 2.13.0 '2026-03-31 06:04:00 +0000'

put apps/checkout-service/overlays/dev/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
resources:
  - ../../base
  - namespace.yaml
labels:
  - pairs:
      environment: dev
    includeTemplates: true
configMapGenerator:
  - name: checkout-service-config
    behavior: merge
    literals:
      - LOG_LEVEL=debug
      - INVENTORY_URL=http://dev-inventory-service
      - CART_TTL_SECONDS=300
      - FEATURE_ONEPAGE=true
patches:
  - path: deployment-env.yaml
  - path: ingress-host.yaml
    target:
      kind: Ingress
      name: checkout-service
  - path: hpa.yaml
EOF
commit '2026-04-07 15:32:00 +0200' priya 'checkout: try one-page checkout in dev (FEATURE_ONEPAGE)'

take apps/notifications-service/overlays/production/anti-affinity.yaml \
    apps/notifications-service/overlays/production/topology-spread.yaml
notif_prod no 'smtp.yaml node-selector.yaml tolerations.yaml anti-affinity.yaml topology-spread.yaml grace-period.yaml' ''
commit '2026-04-14 09:55:00 +0200' tom 'notifications: anti-affinity and zone spread in production'

take_bare apps/checkout-service/overlays/dev/kustomization.yaml
commit '2026-04-28 13:10:00 +0200' priya 'checkout: drop the FEATURE_ONEPAGE experiment' \
    'Conversion did not move; the flag never left dev.'

bump notifications-service notifications 0.18.0 '2026-05-05 06:03:00 +0000'

# --- the incident's cause --------------------------------------------------------------------------------
drop apps/inventory-service/overlays/production/resources.yaml
put apps/inventory-service/overlays/production/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
labels:
  - pairs:
      environment: production
    includeTemplates: true
replicas:
  - name: inventory-service
    count: 2
configMapGenerator:
  - name: inventory-service-config
    behavior: merge
    literals:
      - DB_HOST=inventory-db.production.internal
patches:
  - path: schedule.yaml
EOF
commit '2026-05-15 17:42:00 +0200' tom 'inventory: right-size production memory (cost review)' \
    'Production pods peak at ~380Mi (30-day p99), so the 2Gi from LT-2291 is mostly idle.
Back to the base sizing (256Mi request, 512Mi limit). FIN-412.'

take apps/inventory-service/overlays/production/kustomization.yaml
commit '2026-05-26 10:05:00 +0200' lena 'inventory: scale production to 3 replicas' \
    'Reservation latency during the Tuesday promotions; one more pod instead of bigger pods.'

bump payments-service payments 3.7.0 '2026-06-03 06:02:00 +0000'

payments_prod 3.6.2
commit '2026-06-04 08:37:00 +0200' tom 'payments: pin production to 3.6.2 (PSP timeouts after 3.7.0)' \
    'Rollback while we look into the timeout spike. dev and staging stay on 3.7.0.'

take apps/catalog-service/overlays/dev/resources.yaml
take_bare apps/catalog-service/overlays/dev/kustomization.yaml
commit '2026-06-09 14:20:00 +0200' priya 'catalog: 256Mi memory limit in dev (dev nodes are small)'

payments_prod
commit '2026-06-18 11:15:00 +0200' tom 'payments: unpin production image, back on 3.7.0' \
    'The timeouts were on the PSP side (their incident PSP-7781); 3.7.0 is fine.'

take apps/notifications-service/overlays/production/priority-class.yaml \
    apps/notifications-service/overlays/production/service-annotations.yaml
notif_prod no 'smtp.yaml node-selector.yaml tolerations.yaml anti-affinity.yaml topology-spread.yaml priority-class.yaml grace-period.yaml service-annotations.yaml' ''
commit '2026-06-30 16:02:00 +0200' lena 'notifications: business-critical priority and prometheus scraping in production'

take_bare apps/payments-service/overlays/dev/kustomization.yaml \
    apps/payments-service/overlays/staging/kustomization.yaml
commit '2026-07-08 10:48:00 +0200' priya 'payments: PSP_SANDBOX flag for dev and staging' \
    'The 3.7 client reads PSP_SANDBOX to skip 3-D Secure against the sandbox.'

bump inventory-service inventory 1.9.3 '2026-07-15 06:01:00 +0000'

take_bare apps/catalog-service/overlays/dev/ingress.yaml
commit '2026-07-22 09:31:00 +0200' lena 'catalog: no TLS on the dev ingress (dev controller has no certificates)'

take apps/payments-service/overlays/production/resources.yaml
take_bare apps/payments-service/overlays/production/kustomization.yaml
commit '2026-08-04 15:26:00 +0200' tom 'payments: Guaranteed QoS for production memory (requests = limits)'

take apps/search-service/overlays/production/liveness.yaml
search_prod yes
commit '2026-08-12 22:47:00 +0200' lena 'search: 120s liveness delay in production (INC-1187)' \
    'Pods were killed during index warm-up. Quick fix in production; to be revisited.'

bump checkout-service checkout 2.14.0 '2026-08-19 06:05:00 +0000'

take apps/checkout-service/overlays/production/resources.yaml
take_bare apps/checkout-service/overlays/production/kustomization.yaml
commit '2026-08-26 11:34:00 +0200' tom 'checkout: scale production proportionally' \
    'Requests and limits both 2x the base (500m/512Mi, 1000m/1Gi): same ratios as dev and staging.'

take apps/search-service/overlays/dev/statefulset.yaml
commit '2026-09-02 14:09:00 +0200' priya 'search: drop the cpu limit in dev (local indexing was throttled)'

take apps/notifications-service/overlays/production/pdb.yaml
notif_prod yes 'smtp.yaml node-selector.yaml tolerations.yaml anti-affinity.yaml topology-spread.yaml priority-class.yaml grace-period.yaml service-annotations.yaml' ''
commit '2026-09-09 10:22:00 +0200' tom 'notifications: PodDisruptionBudget in production'

bump search-service search 3.2.0 '2026-09-16 06:02:00 +0000'

take_bare apps/search-service/overlays/production/kustomization.yaml
commit '2026-09-17 19:58:00 +0200' lena 'search: pin production to 3.1.4 (reindex errors on 3.2.0)'

bump notifications-service notifications 0.18.2 '2026-09-29 06:03:00 +0000'

take apps/notifications-service/overlays/production/safe-to-evict.yaml \
    apps/notifications-service/overlays/production/revision-history.yaml \
    apps/notifications-service/overlays/production/strategy.yaml
take_bare apps/notifications-service/overlays/production/kustomization.yaml
commit '2026-10-06 13:44:00 +0200' tom 'notifications: zero-downtime rollout settings in production'

bump catalog-service catalog 5.3.1 '2026-10-13 06:04:00 +0000'

take apps/search-service/overlays/dev/ingress.yaml apps/search-service/overlays/staging/ingress.yaml
commit '2026-10-20 10:12:00 +0200' priya 'search: letsencrypt-staging issuer for the dev and staging ingresses'

# A two-week image mismatch, resolved shortly before the incident review (so `history` lists it as resolved).
put apps/checkout-service/overlays/staging/kustomization.yaml <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
resources:
  - ../../base
  - namespace.yaml
labels:
  - pairs:
      environment: staging
    includeTemplates: true
images:
  - name: registry.acme.internal/shop/checkout-service
    newTag: 2.15.0-rc.1
configMapGenerator:
  - name: checkout-service-config
    behavior: merge
    literals:
      - LOG_LEVEL=debug
      - CART_TTL_SECONDS=900
patches:
  - path: deployment-env.yaml
  - path: ingress-host.yaml
    target:
      kind: Ingress
      name: checkout-service
EOF
commit '2026-10-27 11:20:00 +0100' priya 'checkout: canary 2.15.0-rc.1 in staging'

take apps/checkout-service/overlays/staging/kustomization.yaml
commit '2026-11-10 15:05:00 +0100' tom 'checkout: end the 2.15.0-rc.1 canary, staging back on 2.14.0' \
    'rc.1 leaks DB connections under load; rc.2 goes through the pipeline like every release.'

# === after the incident: the tree becomes examples/infra ===================================================
cp -R "$SRC/." "$DIR/"
commit '2026-11-18 16:30:00 +0100' lena 'docs: README and parity notes after the inventory OOM incident' \
    'INC-1342: inventory-service was OOM-killed in production on 2026-11-12. It passed every test in
staging, which still runs with a 2Gi memory limit; production has had 512Mi since the 2026-05-15
cost review. Each overlay now says which parity gap it carries; the fixes follow in their own PRs.'

# --- the last commit's tree must be examples/infra, byte for byte --------------------------------------------
git -C "$DIR" diff --quiet HEAD || die "uncommitted changes left in $DIR"
diff -r --exclude=.git "$SRC" "$DIR" >&2 || die "the final tree differs from examples/infra (see above)"
[[ -z $(git -C "$DIR" status --porcelain) ]] || die "untracked files left in $DIR"

printf '%s commits, head %s\n' "$(git -C "$DIR" rev-list --count HEAD)" "$(git -C "$DIR" rev-parse HEAD)"
