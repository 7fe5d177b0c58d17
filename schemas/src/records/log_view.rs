//! [`LogView`]: a [`LogRecord`] read in place — its strings borrowed from the bytes of a compact record
//! ([`crate::compact::decode_log_view`]) or from an owned record ([`LogRecord::view`]) — so that a stage
//! reading one record per line (enrich) does not allocate a dozen strings per line only to drop them.
//!
//! The logic that reads a record (its key, its workload, whether it is a Normal Event) lives here once;
//! [`LogRecord`]'s methods of the same names read through a view of themselves, which costs nothing.

use crate::{
    LogRecord, LogSeverity, ObjectKind, Resource, SourceCoordinates, SourceFormat, Stream, Target,
    Workload,
};
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// A [`LogRecord`], borrowed.
#[derive(Debug, Clone)]
pub struct LogView<'a> {
    /// [`LogRecord::schema_version`].
    pub schema_version: u32,
    /// [`LogRecord::event_time_ns`].
    pub event_time_ns: i64,
    /// [`LogRecord::observed_time_ns`].
    pub observed_time_ns: i64,
    /// [`LogRecord::source_format`].
    pub source_format: SourceFormat,
    /// [`LogRecord::severity`].
    pub severity: LogSeverity,
    /// [`LogRecord::message`].
    pub message: &'a str,
    /// [`LogRecord::stream`].
    pub stream: Option<Stream>,
    /// [`LogRecord::resource`].
    pub resource: ResourceView<'a>,
    /// [`LogRecord::attributes`].
    pub attributes: AttributesView<'a>,
    /// [`LogRecord::source`].
    pub source: SourceRef<'a>,
}

/// A [`Resource`], borrowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceView<'a> {
    /// [`Resource::cloud`].
    pub cloud: Option<&'a str>,
    /// [`Resource::account`].
    pub account: Option<&'a str>,
    /// [`Resource::region`].
    pub region: Option<&'a str>,
    /// [`Resource::project`].
    pub project: Option<&'a str>,
    /// [`Resource::cluster`].
    pub cluster: Option<&'a str>,
    /// [`Resource::namespace`].
    pub namespace: Option<&'a str>,
    /// [`Resource::workload`]: its kind and name.
    pub workload: Option<(&'a str, &'a str)>,
    /// [`Resource::pod`].
    pub pod: Option<&'a str>,
    /// [`Resource::container`].
    pub container: Option<&'a str>,
    /// [`Resource::node`].
    pub node: Option<&'a str>,
}

/// [`SourceCoordinates`], borrowed. Ordered as they are (topic, partition, offset, index).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceRef<'a> {
    /// [`SourceCoordinates::topic`].
    pub topic: &'a str,
    /// [`SourceCoordinates::partition`].
    pub partition: i32,
    /// [`SourceCoordinates::offset`].
    pub offset: i64,
    /// [`SourceCoordinates::index`].
    pub index: u32,
}

/// A compact record's attribute pairs, keys strictly ascending: made by the compact reader
/// ([`crate::compact::decode_log_view`]), which checks the order, and held in place up to four (most
/// records have a few), so reading one of those allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Pairs<'a>(SmallVec<[(&'a str, &'a str); 4]>);

impl<'a> Pairs<'a> {
    /// No pairs, with room for `n`.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(SmallVec::with_capacity(n))
    }

    /// Appends a pair whose key is greater than every key before it; whether it was.
    pub(crate) fn push_ascending(&mut self, key: &'a str, value: &'a str) -> bool {
        if self.0.last().is_some_and(|(last, _)| *last >= key) {
            return false;
        }
        self.0.push((key, value));
        true
    }

    /// The pairs, keys ascending.
    #[must_use]
    pub fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.0
    }
}

/// [`LogRecord::attributes`], borrowed: an owned record's map, or a compact record's pairs.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "the pairs are held in place on purpose: a view is read for every line, and boxing them \
              would allocate for every line"
)]
pub enum AttributesView<'a> {
    /// An owned record's attributes.
    Map(&'a BTreeMap<String, String>),
    /// A compact record's attributes.
    Pairs(Pairs<'a>),
}

impl<'a> AttributesView<'a> {
    /// The value of attribute `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&'a str> {
        match self {
            Self::Map(map) => map.get(key).map(String::as_str),
            Self::Pairs(pairs) => {
                let pairs = pairs.as_slice();
                pairs
                    .binary_search_by(|(k, _)| (*k).cmp(key))
                    .ok()
                    .map(|i| pairs[i].1)
            }
        }
    }

    /// Every attribute, keys ascending.
    #[must_use]
    pub fn iter(&self) -> Attributes<'a, '_> {
        match self {
            Self::Map(map) => Attributes::Map(map.iter()),
            Self::Pairs(pairs) => Attributes::Pairs(pairs.as_slice().iter()),
        }
    }

    /// How many attributes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Map(map) => map.len(),
            Self::Pairs(pairs) => pairs.as_slice().len(),
        }
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The attributes of an [`AttributesView`], keys ascending ([`AttributesView::iter`]).
#[derive(Debug, Clone)]
pub enum Attributes<'a, 'v> {
    /// An owned record's.
    Map(std::collections::btree_map::Iter<'a, String, String>),
    /// A compact record's.
    Pairs(std::slice::Iter<'v, (&'a str, &'a str)>),
}

impl<'a> Iterator for Attributes<'a, '_> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Map(pairs) => pairs.next().map(|(k, v)| (k.as_str(), v.as_str())),
            Self::Pairs(pairs) => pairs.next().copied(),
        }
    }
}

impl<'a> LogView<'a> {
    /// The record this view reads, owned.
    #[must_use]
    pub fn to_record(&self) -> LogRecord {
        LogRecord {
            schema_version: self.schema_version,
            event_time_ns: self.event_time_ns,
            observed_time_ns: self.observed_time_ns,
            source_format: self.source_format,
            severity: self.severity,
            message: self.message.to_owned(),
            stream: self.stream,
            resource: self.resource.to_resource(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            source: self.source.to_coordinates(),
        }
    }

    /// Whether this is a Kubernetes Event of type `Normal` that reports things going as expected (see
    /// [`LogRecord::is_normal_event`]).
    #[must_use]
    pub fn is_normal_event(&self) -> bool {
        let attribute = |key: &str| self.attributes.get(key);
        let adverse_node_status = attribute("k8s.object.kind") == Some("Node")
            && attribute("k8s.event.reason")
                .is_some_and(|r| crate::ADVERSE_NODE_REASONS.contains(&r));
        self.source_format == SourceFormat::K8sEvent
            && !adverse_node_status
            && match attribute("k8s.event.type") {
                Some(kind) => kind.eq_ignore_ascii_case("normal"),
                None => self.severity < LogSeverity::Warning,
            }
    }
}

impl<'a> ResourceView<'a> {
    /// The resource this view reads, owned.
    #[must_use]
    pub fn to_resource(&self) -> Resource {
        let owned = |field: Option<&str>| field.map(str::to_owned);
        Resource {
            cloud: owned(self.cloud),
            account: owned(self.account),
            region: owned(self.region),
            project: owned(self.project),
            cluster: owned(self.cluster),
            namespace: owned(self.namespace),
            workload: self.workload.map(|(kind, name)| Workload {
                kind: kind.to_owned(),
                name: name.to_owned(),
            }),
            pod: owned(self.pod),
            container: owned(self.container),
            node: owned(self.node),
        }
    }

    /// The name a record is keyed and windowed by: its workload's, else its pod's.
    fn owner_name(&self) -> Option<&'a str> {
        self.workload.map(|(_, name)| name).or(self.pod)
    }

    /// The Kafka key of a record from here (`namespace/name`, `_` for no namespace): a workload's records
    /// go to one partition, in order. `None` when the record names neither workload nor pod.
    #[must_use]
    pub fn key(&self) -> Option<String> {
        Some(crate::wire::workload_key(
            self.namespace,
            self.owner_name()?,
        ))
    }

    /// The workload a record from here counts in (see [`LogRecord::workload`]).
    #[must_use]
    pub fn workload(&self) -> Option<Target> {
        let name = self.owner_name()?;
        let kind = match self.workload {
            Some((kind, _)) => ObjectKind::from_kind(kind),
            None => ObjectKind::Pod,
        };
        Some(Target {
            cluster: self.cluster.map(str::to_owned),
            namespace: self.namespace.map(str::to_owned),
            kind,
            name: name.to_owned(),
            pod: None,
            node: None,
        })
    }
}

impl<'a> SourceRef<'a> {
    /// The coordinates, owned.
    #[must_use]
    pub fn to_coordinates(&self) -> SourceCoordinates {
        SourceCoordinates {
            topic: self.topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
            index: self.index,
        }
    }
}

impl LogRecord {
    /// This record, borrowed (no allocation).
    #[must_use]
    #[inline]
    pub fn view(&self) -> LogView<'_> {
        LogView {
            schema_version: self.schema_version,
            event_time_ns: self.event_time_ns,
            observed_time_ns: self.observed_time_ns,
            source_format: self.source_format,
            severity: self.severity,
            message: &self.message,
            stream: self.stream,
            resource: self.resource.view(),
            attributes: AttributesView::Map(&self.attributes),
            source: self.source.view(),
        }
    }
}

impl Resource {
    /// This resource, borrowed.
    #[must_use]
    #[inline]
    pub fn view(&self) -> ResourceView<'_> {
        ResourceView {
            cloud: self.cloud.as_deref(),
            account: self.account.as_deref(),
            region: self.region.as_deref(),
            project: self.project.as_deref(),
            cluster: self.cluster.as_deref(),
            namespace: self.namespace.as_deref(),
            workload: self
                .workload
                .as_ref()
                .map(|w| (w.kind.as_str(), w.name.as_str())),
            pod: self.pod.as_deref(),
            container: self.container.as_deref(),
            node: self.node.as_deref(),
        }
    }
}

impl SourceCoordinates {
    /// These coordinates, borrowed.
    #[must_use]
    #[inline]
    pub fn view(&self) -> SourceRef<'_> {
        SourceRef {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            index: self.index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn a_view_of_a_record_or_of_its_compact_bytes_is_the_record() {
        let mut log = fixtures::log_record("pod web-1 OOMKilled", 3);
        log.attributes
            .insert("k8s.event.reason".into(), "OOMKilling".into());
        log.attributes.insert("a".into(), "b".into());
        log.resource.node = Some("node-1".into());
        assert_eq!(log.view().to_record(), log);
        let bytes = crate::compact::encode_log(&log);
        let read = crate::compact::decode_log_view(&bytes).expect("decodes");
        let compact = read.view().clone();
        assert_eq!(compact.to_record(), log);
        assert!(matches!(compact.attributes, AttributesView::Pairs(_)));
        for view in [log.view(), compact] {
            assert_eq!(view.attributes.get("a"), Some("b"));
            assert_eq!(view.attributes.get("k8s.event.reason"), Some("OOMKilling"));
            assert_eq!(view.attributes.get("b"), None);
            assert_eq!(view.attributes.get("z"), None);
            assert_eq!(view.attributes.len(), 2);
        }
    }

    #[test]
    fn keys_and_workloads_name_the_workload_else_the_pod() {
        let mut resource = Resource {
            namespace: Some("shop".into()),
            pod: Some("web-7d9-x".into()),
            ..Resource::default()
        };
        assert_eq!(resource.view().key().as_deref(), Some("shop/web-7d9-x"));
        let pod = resource.view().workload().expect("a pod");
        assert_eq!(
            (pod.kind, pod.name.as_str()),
            (ObjectKind::Pod, "web-7d9-x")
        );
        resource.workload = Some(Workload {
            kind: "Deployment".into(),
            name: "web".into(),
        });
        resource.namespace = None;
        assert_eq!(resource.view().key().as_deref(), Some("_/web"));
        let workload = resource.view().workload().expect("a workload");
        assert_eq!(
            (workload.kind, workload.name.as_str(), workload.pod),
            (ObjectKind::Deployment, "web", None)
        );
        assert_eq!(ResourceView::default().key(), None);
        assert_eq!(ResourceView::default().workload(), None);
    }
}
