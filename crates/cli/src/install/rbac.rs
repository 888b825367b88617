//! The permissions weir's controllers need, one rule per need, each with the reason it exists.
//!
//! Read from the controllers' code (`crates/rollout-controller`, `crates/analysis-controller`,
//! `crates/app-controller`, `weir_cluster::record_event`): every `get`/`list`/`watch`/`create`/
//! `update`/`patch`/`delete` they issue is covered by exactly the rule that names it. The last
//! rule is the Application controller's: an Application may sync any kind, so — like Argo CD's
//! `argocd-application-controller` ClusterRole — it gets `*` on `*`.

/// One RBAC rule and why weir needs it (printed as a comment above the rule).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// Which controller needs which verb for what.
    pub(crate) why: &'static str,
    pub(crate) api_groups: &'static [&'static str],
    pub(crate) resources: &'static [&'static str],
    pub(crate) verbs: &'static [&'static str],
    /// Only cluster-scoped kinds: left out of a namespaced install's Role (a Role cannot grant
    /// them; Argo Rollouts' namespaced mode has no ClusterAnalysisTemplates either).
    pub(crate) cluster_scoped: bool,
}

const READ: &[&str] = &["get", "list", "watch"];

/// Every rule, in the order they are rendered.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        why: "Rollout controller: watches Rollouts, writes their status (update rollouts/status), \
              and records pause conditions, aborts and promotions (patch).",
        api_groups: &["argoproj.io"],
        resources: &["rollouts", "rollouts/status"],
        verbs: &["get", "list", "watch", "update", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller creates an AnalysisRun per analysis step and for background \
              analysis, terminates (patch) and deletes old ones; AnalysisRun controller writes \
              their status (update analysisruns/status).",
        api_groups: &["argoproj.io"],
        resources: &["analysisruns", "analysisruns/status"],
        verbs: &["get", "list", "watch", "create", "update", "patch", "delete"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller reads AnalysisTemplates to build AnalysisRuns (and re-queues \
              a Rollout when one changes).",
        api_groups: &["argoproj.io"],
        resources: &["analysistemplates"],
        verbs: READ,
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller reads ClusterAnalysisTemplates (cluster-scoped, so cluster-wide \
              installs only).",
        api_groups: &["argoproj.io"],
        resources: &["clusteranalysistemplates"],
        verbs: READ,
        cluster_scoped: true,
    },
    Rule {
        why: "Rollout controller owns one ReplicaSet per revision: creates it, scales it \
              (update, patch), deletes revisions beyond revisionHistoryLimit.",
        api_groups: &["apps"],
        resources: &["replicasets"],
        verbs: &["get", "list", "watch", "create", "update", "patch", "delete"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller, workloadRef: reads the referenced Deployment's pod template \
              and scales it down (patch spec.replicas) as Argo Rollouts does.",
        api_groups: &["apps"],
        resources: &["deployments"],
        verbs: &["get", "list", "watch", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller counts available pods and restarts them for `rollouts restart` \
              (patch, delete); AnalysisRun controller's Job provider runs each measurement as a \
              pod (create, get, delete).",
        api_groups: &[""],
        resources: &["pods"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller pins the canary/stable Services' selectors to a ReplicaSet's \
              pod-template-hash (patch).",
        api_groups: &[""],
        resources: &["services"],
        verbs: &["get", "list", "watch", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout controller, Istio traffic routing: sets route weights in VirtualServices \
              and subsets in DestinationRules (update, patch).",
        api_groups: &["networking.istio.io"],
        resources: &["virtualservices", "destinationrules"],
        verbs: &["get", "list", "watch", "update", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "AnalysisRun controller reads secretKeyRef values of analysis templates; \
              Application controller reads repository credentials (Secrets labelled \
              argocd.argoproj.io/secret-type). Read only: weir never writes a Secret it does \
              not sync.",
        api_groups: &[""],
        resources: &["secrets"],
        verbs: READ,
        cluster_scoped: false,
    },
    Rule {
        why: "Rollout and AnalysisRun controllers record Events on the objects they act on \
              (what `kubectl describe` shows).",
        api_groups: &[""],
        resources: &["events"],
        verbs: &["create", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "weir controller --leader-elect: the two replicas share one coordination.k8s.io \
              Lease (get, create, renew with update).",
        api_groups: &["coordination.k8s.io"],
        resources: &["leases"],
        verbs: &["get", "create", "update"],
        cluster_scoped: false,
    },
    Rule {
        why: "Application controller: reads Applications and AppProjects, writes status and \
              operation state, removes its finalizer on deletion (update, patch).",
        api_groups: &["argoproj.io"],
        resources: &["applications", "applications/status", "appprojects"],
        verbs: &["get", "list", "watch", "update", "patch"],
        cluster_scoped: false,
    },
    Rule {
        why: "Application controller, sync: an Application may create, change, prune and watch \
              any kind in its destination, so it needs every verb on every resource — the same \
              `*` on `*` Argo CD's application controller has. Without Applications (Rollouts \
              only), delete this rule: the rules above are enough.",
        api_groups: &["*"],
        resources: &["*"],
        verbs: &["*"],
        cluster_scoped: false,
    },
];

/// The rules a Role (`namespaced`) or ClusterRole may carry.
pub(crate) fn rules(namespaced: bool) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |rule| !(namespaced && rule.cluster_scoped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verbs the API server knows; a typo here would be silently ignored by RBAC.
    const KNOWN_VERBS: &[&str] =
        &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"];

    #[test]
    fn every_rule_explains_itself_and_uses_real_verbs() {
        for rule in RULES {
            assert!(rule.why.len() > 20, "{:?}", rule.resources);
            for verb in rule.verbs {
                assert!(KNOWN_VERBS.contains(verb), "{verb} in {:?}", rule.resources);
            }
        }
    }

    /// A namespaced Role drops exactly the cluster-scoped kinds (ClusterAnalysisTemplates).
    #[test]
    fn a_role_has_no_cluster_scoped_kinds() {
        let role: Vec<_> = rules(true).flat_map(|r| r.resources.iter()).collect();
        assert!(!role.contains(&&"clusteranalysistemplates"));
        let cluster_role: Vec<_> = rules(false).flat_map(|r| r.resources.iter()).collect();
        assert!(cluster_role.contains(&&"clusteranalysistemplates"));
        assert_eq!(cluster_role.len(), role.len() + 1);
    }
}
