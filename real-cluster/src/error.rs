//! Errors of real-cluster mode, each naming what failed and what to do.

use std::path::PathBuf;

/// Path of the ClusterRole manifest drydock ships, relative to the repository root.
pub const RBAC_MANIFEST_PATH: &str = "real-cluster/rbac.yaml";

/// The ClusterRole (and its ServiceAccount-free binding template) granting exactly what
/// `drydock real` needs (real-cluster.md §7).
pub const RBAC_MANIFEST: &str = include_str!("../rbac.yaml");

/// Why a real-cluster run could not start or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RealError {
    /// The kubeconfig is missing, unreadable or invalid. Input error.
    #[error("cannot use kubeconfig{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig {
        /// The file, when one was named.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// The kubeconfig's server is not on a loopback address and `--allow-remote` was not given.
    /// Input error.
    #[error(
        "the kubeconfig's server {server} is not on this machine (loopback); drydock creates fake nodes and pods there\n  hint: pass --allow-remote if you mean it, or start a local control plane with `drydock cluster up`"
    )]
    Remote {
        /// The server URL.
        server: String,
    },
    /// The API server could not be reached (connection refused, TLS failure, timeout).
    #[error(
        "cannot reach the API server at {server}: {source}\n  hint: {}",
        unreachable_hint(source)
    )]
    Unreachable {
        /// The server URL.
        server: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The API server rejected the credentials (HTTP 401).
    #[error(
        "the API server at {server} rejected drydock's credentials (401 Unauthorized): {message}\n  hint: check the user of the kubeconfig's current context; a client certificate may have expired"
    )]
    Unauthorized {
        /// The server URL.
        server: String,
        /// The server's message.
        message: String,
    },
    /// A request was forbidden by RBAC (HTTP 403).
    #[error(
        "the cluster does not let drydock {verb} {resource}{}: {message}\n  hint: apply the ClusterRole in {RBAC_MANIFEST_PATH} (`kubectl apply -f {RBAC_MANIFEST_PATH}`) and bind it to the kubeconfig's user",
        namespace.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default()
    )]
    Forbidden {
        /// The verb (`create`, `patch`, `list`, ...).
        verb: String,
        /// The resource (`pods/binding`, `nodes/status`, ...).
        resource: String,
        /// The namespace, for namespaced resources.
        namespace: Option<String>,
        /// The server's message.
        message: String,
    },
    /// An object drydock would create or change exists and is not labelled as drydock's (or as
    /// this run's). Nothing was changed.
    #[error(
        "{kind} {}{name} exists and is not drydock's, or is another drydock run's (it lacks this run's labels, {}={} and the run id); drydock will not touch it\n  hint: {}",
        namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default(),
        crate::names::LABEL_MANAGED_BY,
        crate::names::MANAGED_BY,
        match *kind {
            "Namespace" => "choose another --namespace",
            "Pod" | "Deployment" => "another run may be using this namespace: choose another --namespace (or leave out --namespace for a fresh one), or remove that object yourself",
            _ => "remove that object yourself if no drydock run is using it",
        }
    )]
    NotOurs {
        /// The kind (`Node`, `Namespace`, `Lease`, `Pod`).
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its namespace, if namespaced.
        namespace: Option<String>,
    },
    /// Any other API error while doing `action`.
    #[error("{action}: {source}")]
    Api {
        /// What drydock was doing.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The scenario cannot be run on a real cluster. Input error.
    #[error("{0}")]
    Input(String),
    /// Something did not happen in time (nodes Ready, namespace gone).
    #[error("{0}")]
    Timeout(String),
    /// Interrupted by Ctrl-C; drydock's objects were cleaned up.
    #[error("interrupted; drydock's objects were removed")]
    Interrupted,
}

impl RealError {
    /// True for errors caused by the user's input (exit code 2): a bad kubeconfig, a remote
    /// server without `--allow-remote`, a scenario real mode cannot run, an object in the way.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            RealError::Kubeconfig { .. }
                | RealError::Remote { .. }
                | RealError::Input(_)
                | RealError::NotOurs { .. }
        )
    }

    /// True for errors worth retrying: the server unreachable, timeouts, and API errors other
    /// than 4xx (except 409 Conflict and 429 Too Many Requests), as an API server restart or an
    /// overloaded server gives.
    pub fn is_transient(&self) -> bool {
        match self {
            RealError::Unreachable { .. } | RealError::Timeout(_) => true,
            RealError::Api { source, .. } => match status_code(source) {
                Some(c) => c >= 500 || c == 409 || c == 429,
                None => true,
            },
            _ => false,
        }
    }

    /// Classifies a client error of request `verb resource` (in `namespace`) against `server`:
    /// 403 becomes [`RealError::Forbidden`], 401 [`RealError::Unauthorized`], a transport
    /// failure [`RealError::Unreachable`], anything else [`RealError::Api`].
    pub fn from_kube(
        err: kube::Error,
        server: &str,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Self {
        match &err {
            kube::Error::Api(s) if s.code == 403 => RealError::Forbidden {
                verb: verb.to_string(),
                resource: resource.to_string(),
                namespace: namespace.map(str::to_string),
                message: s.message.clone(),
            },
            kube::Error::Api(s) if s.code == 401 => RealError::Unauthorized {
                server: server.to_string(),
                message: s.message.clone(),
            },
            kube::Error::HyperError(_)
            | kube::Error::Service(_)
            | kube::Error::RustlsTls(_)
            | kube::Error::TlsRequired => RealError::Unreachable {
                server: server.to_string(),
                source: err,
            },
            _ => RealError::Api {
                action: format!(
                    "cannot {verb} {resource}{}",
                    namespace.map(|n| format!(" in {n}")).unwrap_or_default()
                ),
                source: err,
            },
        }
    }
}

/// The HTTP status code of an API error, if `err` is one.
pub fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// The hint for an unreachable server: a certificate the kubeconfig does not trust (an old
/// kubeconfig of a control plane started again with a new certificate authority) reads
/// differently from a server that is not running.
fn unreachable_hint(source: &kube::Error) -> &'static str {
    let mut chain = format!("{source:?}");
    let mut e: Option<&dyn std::error::Error> = std::error::Error::source(source);
    while let Some(x) = e {
        chain.push_str(&x.to_string());
        e = x.source();
    }
    if [
        "UnknownIssuer",
        "BadSignature",
        "certificate",
        "Certificate",
    ]
    .iter()
    .any(|k| chain.contains(k))
    {
        "the server's TLS certificate is not signed by the kubeconfig's certificate authority: is this kubeconfig for this cluster? (a local control plane started again after `drydock cluster down` has a new one; use the kubeconfig `drydock cluster up` printed)"
    } else {
        "is the cluster running? `drydock cluster status` tells for the local control plane"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        let mut s = kube::core::Status::failure(message, "Forbidden");
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn forbidden_names_verb_resource_namespace_and_the_manifest() {
        let e = RealError::from_kube(
            api(
                403,
                "pods \"x\" is forbidden: User \"bob\" cannot create resource \"pods/binding\"",
            ),
            "https://127.0.0.1:6443",
            "create",
            "pods/binding",
            Some("drydock-1"),
        );
        let msg = e.to_string();
        assert!(matches!(e, RealError::Forbidden { .. }));
        assert!(
            msg.starts_with(
                "the cluster does not let drydock create pods/binding in namespace drydock-1"
            ),
            "{msg}"
        );
        assert!(msg.contains("real-cluster/rbac.yaml"), "{msg}");
        assert!(msg.contains("User \"bob\""), "{msg}");
        assert!(!e.is_input_error());
    }

    #[test]
    fn unauthorized_and_other_codes_are_classified() {
        let e = RealError::from_kube(api(401, "Unauthorized"), "https://h", "list", "nodes", None);
        assert!(matches!(e, RealError::Unauthorized { .. }), "{e}");
        let e = RealError::from_kube(api(500, "boom"), "https://h", "list", "nodes", None);
        assert!(matches!(e, RealError::Api { .. }), "{e}");
        assert!(e.to_string().starts_with("cannot list nodes: "), "{e}");
    }

    #[test]
    fn transient_errors_are_those_a_restarting_server_gives() {
        let e = |code| RealError::from_kube(api(code, "x"), "s", "get", "pods", None);
        assert!(e(500).is_transient());
        assert!(e(503).is_transient());
        assert!(e(429).is_transient());
        assert!(e(409).is_transient());
        assert!(!e(403).is_transient());
        assert!(!e(401).is_transient());
        assert!(!e(404).is_transient());
        assert!(!RealError::Input("x".into()).is_transient());
    }

    #[test]
    fn not_ours_names_the_object() {
        let e = RealError::NotOurs {
            kind: "Node",
            name: "a100-0".into(),
            namespace: None,
        };
        assert!(
            e.to_string()
                .starts_with("Node a100-0 exists and is not drydock's"),
            "{e}"
        );
        assert!(e.is_input_error());
    }

    #[test]
    fn the_rbac_manifest_is_a_cluster_role() {
        assert!(RBAC_MANIFEST.contains("kind: ClusterRole"));
        for needed in [
            "pods/binding",
            "pods/eviction",
            "pods/status",
            "nodes/status",
            "leases",
        ] {
            assert!(RBAC_MANIFEST.contains(needed), "{needed}");
        }
    }
}
