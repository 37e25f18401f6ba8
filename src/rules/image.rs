//! `image`: container image repository and tag/digest must match across environments.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/image.md")]
pub struct Image;

impl Rule for Image {
    fn id(&self) -> RuleId {
        RuleId::Image
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for c in service.containers() {
            let images: Vec<(&str, &crate::model::Image)> = c
                .per_env
                .iter()
                .filter_map(|(env, ct)| Some((*env, ct.image.as_ref()?)))
                .collect();
            let Some((_, first)) = images.first() else {
                continue;
            };
            if images.iter().all(|(_, i)| i == first) {
                continue;
            }
            let what = if images.iter().all(|(_, i)| i.repository == first.repository) {
                "tag/digest"
            } else {
                "repository"
            };
            let values: IndexMap<String, String> = images
                .iter()
                .map(|(e, i)| (e.to_string(), i.raw.clone()))
                .collect();
            let envs: Vec<String> = values.keys().cloned().collect();
            let message = format!(
                "container `{}` runs a different image {what} in {}",
                c.name,
                and_list(&envs)
            );
            out.push(container_draft(&c, "image".into(), envs, values, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Image;
    use crate::rules::testing::{Workload, check, deployment, draft, service, web};

    fn image(image: &str) -> Workload {
        web(|c| c.image(image))
    }

    fn messages(model: &crate::rules::ServiceModel) -> Vec<String> {
        check(&Image, model)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn another_tag_fires_naming_every_environment_with_its_spelling() {
        let model = service("web")
            .env("dev", [image("registry.example.com/shop/web:1.4.2")])
            .env("staging", [image("registry.example.com/shop/web:1.4.2")])
            .env("production", [image("registry.example.com/shop/web:1.4.1")])
            .build();
        assert_eq!(
            check(&Image, &model),
            [draft("Deployment/web")
                .container("web")
                .field("image")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "registry.example.com/shop/web:1.4.2"),
                    ("staging", "registry.example.com/shop/web:1.4.2"),
                    ("production", "registry.example.com/shop/web:1.4.1"),
                ])
                .message("container `web` runs a different image tag/digest in dev, staging and production")]
        );
    }

    #[test]
    fn another_registry_or_digest_fires() {
        let digest = |c: char| format!("envoyproxy/envoy@sha256:{}", c.to_string().repeat(64));
        let model = service("web")
            .env(
                "staging",
                [deployment("web")
                    .container("web", |c| c.image("ghcr.io/acme/web:1.0"))
                    .container("proxy", |c| c.image(&digest('a')))],
            )
            .env(
                "production",
                [deployment("web")
                    .container("web", |c| c.image("registry.example.com/acme/web:1.0"))
                    .container("proxy", |c| c.image(&digest('b')))],
            )
            .build();
        assert_eq!(
            messages(&model),
            [
                "container `web` runs a different image repository in staging and production",
                "container `proxy` runs a different image tag/digest in staging and production",
            ]
        );
    }

    #[test]
    fn init_containers_are_compared_too() {
        let migrate = |tag: &str| {
            deployment("web")
                .container("web", |c| c.image("web:2"))
                .init_container("migrate", |c| c.image(&format!("web-migrate:{tag}")))
        };
        let model = service("web")
            .env("staging", [migrate("2")])
            .env("production", [migrate("1")])
            .build();
        assert_eq!(
            check(&Image, &model),
            [draft("Deployment/web")
                .container("migrate")
                .field("image")
                .envs(["staging", "production"])
                .values([("staging", "web-migrate:2"), ("production", "web-migrate:1")])
                .message("container `migrate` runs a different image tag/digest in staging and production")]
        );
    }

    /// The Docker CLI and the kubelet pull one image for each of these spellings.
    #[test]
    fn docker_hub_spellings_of_one_image_are_silent() {
        let model = service("web")
            .env(
                "dev",
                [deployment("web")
                    .replicas(1)
                    .container("web", |c| c.image("nginx:1.25"))
                    .container("cache", |c| c.image("redis"))],
            )
            .env(
                "staging",
                [deployment("web")
                    .replicas(2)
                    .container("web", |c| c.image("docker.io/nginx:1.25"))
                    .container("cache", |c| c.image("redis:latest"))],
            )
            .env(
                "production",
                [deployment("web")
                    .replicas(6)
                    .container("web", |c| c.image("docker.io/library/nginx:1.25"))
                    .container("cache", |c| c.image("docker.io/library/redis:latest"))],
            )
            .build();
        assert_eq!(check(&Image, &model), []);
    }

    /// Containers are matched by workload and container name: two workloads may run different images.
    #[test]
    fn different_images_in_different_workloads_are_silent() {
        let both = || {
            [
                deployment("web").container("app", |c| c.image("web:1")),
                deployment("worker").container("app", |c| c.image("worker:7")),
            ]
        };
        let model = service("web")
            .env("staging", both())
            .env("production", both())
            .build();
        assert_eq!(check(&Image, &model), []);
    }

    /// A reference the parser rejects is still compared, as written.
    #[test]
    fn an_unparseable_reference_is_compared_as_written() {
        let same = service("web")
            .env("staging", [image("Registry.example.com/Shop/Web:1")])
            .env("production", [image("Registry.example.com/Shop/Web:1")])
            .build();
        assert_eq!(check(&Image, &same), []);
        let other = service("web")
            .env("staging", [image("Registry.example.com/Shop/Web:2")])
            .env("production", [image("Registry.example.com/Shop/Web:1")])
            .build();
        assert_eq!(
            messages(&other),
            ["container `web` runs a different image repository in staging and production"]
        );
    }
}
