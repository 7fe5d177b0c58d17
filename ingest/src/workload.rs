//! Deriving the owning workload from Kubernetes naming conventions.
//!
//! Controllers name what they create predictably: a Deployment `web` owns ReplicaSet `web-<hash>`, which
//! owns pods `web-<hash>-<suffix>`; a StatefulSet `db` owns pods `db-0`, `db-1`; DaemonSets and Jobs own
//! pods `name-<suffix>`. Hashes and suffixes use the alphabet of `k8s.io/apimachinery`'s `rand.String`
//! (consonants and digits without vowels or look-alikes), which is what makes the guess safe.

use schemas::Workload;

const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// [`SAFE_ALPHABET`] by byte: every line's pod name is looked up, a byte at a time (a search of the
/// alphabet for each byte was half this module's cost).
const IS_SAFE: [bool; 256] = schemas::byte_set::byte_set(SAFE_ALPHABET);

fn is_generated(token: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&token.len()) && token.bytes().all(|b| IS_SAFE[usize::from(b)])
}

/// The workload that owns pod `pod`, guessed from its name.
#[must_use]
pub(crate) fn from_pod_name(pod: &str) -> Option<Workload> {
    let mut parts = pod.rsplitn(3, '-');
    let last = parts.next()?;
    let middle = parts.next()?;
    if let Some(base) = parts.next()
        && is_generated(last, 5, 5)
        && is_generated(middle, 6, 10)
    {
        return Some(workload("Deployment", base));
    }
    let (base, last) = pod.rsplit_once('-')?;
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return Some(workload("StatefulSet", base));
    }
    if is_generated(last, 5, 5) {
        // DaemonSet and Job pods look alike; the name is still the right grouping key.
        return Some(workload("DaemonSet/Job", base));
    }
    None
}

/// The Deployment that owns ReplicaSet `name`, if the name has a pod-template-hash suffix.
#[must_use]
pub(crate) fn from_replica_set_name(name: &str) -> Option<Workload> {
    let (base, hash) = name.rsplit_once('-')?;
    is_generated(hash, 6, 10).then(|| workload("Deployment", base))
}

/// The workload a pod's owner (`kind`, `name`) stands for, if it is a kind that owns pods: a ReplicaSet
/// (its Deployment when it has a pod-template hash), StatefulSet, DaemonSet, Job or ReplicationController.
/// Anything else (a Node, a Namespace, a kind a log line made up) names no workload.
#[must_use]
pub(crate) fn from_owner(kind: &str, name: &str) -> Option<Workload> {
    match kind {
        "ReplicaSet" => from_replica_set_name(name).or_else(|| Some(workload(kind, name))),
        "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController" => Some(workload(kind, name)),
        _ => None,
    }
}

/// Whether pod `pod` can belong to owner `owner_name`: controllers name their pods `<owner>-<suffix>`,
/// so an owner reference (or an owner claim) that does not prefix the pod's name is not its owner.
#[must_use]
pub(crate) fn named_after(pod: &str, owner_name: &str) -> bool {
    pod.strip_prefix(owner_name)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('-'))
}

/// The workload an event's involved object belongs to.
#[must_use]
pub(crate) fn from_object(kind: &str, name: &str) -> Option<Workload> {
    match kind {
        "Pod" => from_pod_name(name),
        "ReplicaSet" => from_replica_set_name(name).or_else(|| Some(workload(kind, name))),
        "" => None,
        _ => Some(workload(kind, name)),
    }
}

fn workload(kind: &str, name: &str) -> Workload {
    Workload {
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_map_to_owners() {
        let cases = [
            ("px-5d567cc74c-4hdbd", Some(("Deployment", "px"))),
            (
                "ts-travel-service-64469b5b48-25zj6",
                Some(("Deployment", "ts-travel-service")),
            ),
            ("kafka-0", Some(("StatefulSet", "kafka"))),
            ("fluent-bit-x7k2p", Some(("DaemonSet/Job", "fluent-bit"))),
            ("standalone", None),
            ("web-AAAAA", None),
        ];
        for (pod, expected) in cases {
            let got = from_pod_name(pod);
            let got = got.as_ref().map(|w| (w.kind.as_str(), w.name.as_str()));
            assert_eq!(got, expected, "{pod}");
        }
    }

    #[test]
    fn replica_sets_map_to_deployments() {
        assert_eq!(
            from_replica_set_name("px-5d567cc74c").map(|w| w.name),
            Some("px".to_owned())
        );
        assert_eq!(
            from_object("ReplicaSet", "plain").map(|w| w.kind),
            Some("ReplicaSet".to_owned())
        );
        assert_eq!(
            from_object("Node", "node-1").map(|w| w.kind),
            Some("Node".to_owned())
        );
    }
}
