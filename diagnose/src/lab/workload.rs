//! A workload's evidence, read as one. A corpus sample is sometimes a part of a workload, not the whole:
//! a Hadoop sample is one YARN container, labelled with its application's fault (a machine went down,
//! the network or a disk failed during the application's run; most of its containers ran on healthy
//! machines and look healthy). medic diagnoses workloads — in the pipeline a workload's window pools
//! its pods' lines — so a corpus is classified the same way: the parts of one workload are pooled into one
//! sample, a model predicts it once, and every part gets that verdict. Scores stay per sample, so a
//! workload of many parts weighs as many samples, as before.
//!
//! Training is unchanged: each part is a training sample of its own (pooling the training side as well
//! was within the noise in a scikit-learn prototype, so it was not built).

use crate::lab::corpus::Sample;

/// The workload a sample is part of: a YARN application for a container, else the sample itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Workload<'a> {
    /// The id's parent path (a container's), or the whole id.
    path: &'a str,
    /// `<cluster timestamp>_<application number>` of a container's application.
    application: Option<&'a str>,
}

/// The id up to a YARN container's application number (`…/container_[e<epoch>_]<ts>_<app>`), or the whole
/// id when it is not a container: one name per application, as long as its containers' ids agree on the
/// epoch.
#[must_use]
pub fn application_prefix(id: &str) -> &str {
    let last = last_segment(id);
    application_in(last).map_or(id, |at| &id[..id.len() - last.len() + at.end])
}

/// The workload of the sample `id`: for a YARN container (the id's last `/` segment is
/// `container_[e<epoch>_]<cluster timestamp>_<application>_<attempt>_<container>`) its application under
/// the id's parent path, whatever the attempt or the resource manager's epoch; else the sample alone.
#[must_use]
pub fn workload_of(id: &str) -> Workload<'_> {
    let last = last_segment(id);
    match application_in(last) {
        Some(at) => Workload {
            path: &id[..(id.len() - last.len()).saturating_sub(1)],
            application: Some(&last[at]),
        },
        None => Workload {
            path: id,
            application: None,
        },
    }
}

fn last_segment(id: &str) -> &str {
    id.rsplit_once('/').map_or(id, |(_, last)| last)
}

/// Where `<cluster timestamp>_<application>` lies in a container id, if `segment` is one.
fn application_in(segment: &str) -> Option<std::ops::Range<usize>> {
    let rest = segment.strip_prefix("container_")?;
    let rest = match rest.split_once('_') {
        Some((epoch, tail)) if epoch.strip_prefix('e').is_some_and(is_number) => tail,
        _ => rest,
    };
    let fields: Vec<&str> = rest.split('_').collect();
    if fields.len() != 4 || !fields.iter().copied().all(is_number) {
        return None;
    }
    let start = segment.len() - rest.len();
    Some(start..start + fields[0].len() + 1 + fields[1].len())
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Samples pooled per workload ([`workload_of`]), in the order each workload first appears.
#[derive(Debug, Clone)]
pub struct Pooled {
    /// One sample per workload: every part's lines in order, under the first part's id, label and source
    /// (what a model reads is the lines; the label and source are not used to pool or to predict).
    pub samples: Vec<Sample>,
    /// For each sample given to [`Pooled::of`], the index of its workload in [`Pooled::samples`].
    workload_at: Vec<usize>,
}

impl Pooled {
    /// Pools `samples` per workload.
    #[must_use]
    pub fn of<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Self {
        let mut index: std::collections::HashMap<Workload<'_>, usize> =
            std::collections::HashMap::new();
        let mut pooled: Vec<Sample> = Vec::new();
        let workload_at = samples
            .into_iter()
            .map(|sample| {
                let at = *index.entry(workload_of(&sample.id)).or_insert_with(|| {
                    pooled.push(Sample {
                        id: sample.id.clone(),
                        lines: Vec::new(),
                        label: sample.label,
                        source: sample.source.clone(),
                    });
                    pooled.len() - 1
                });
                pooled[at].lines.extend(sample.lines.iter().cloned());
                at
            })
            .collect();
        Self {
            samples: pooled,
            workload_at,
        }
    }

    /// Each pooled sample's verdict given to every part of it, in the order of the samples given to
    /// [`Pooled::of`].
    ///
    /// # Errors
    /// When there is not one verdict per pooled sample.
    pub fn spread<T: Clone>(&self, verdicts: &[T]) -> Result<Vec<T>, String> {
        if verdicts.len() != self.samples.len() {
            return Err(format!(
                "{} verdicts for {} workloads",
                verdicts.len(),
                self.samples.len()
            ));
        }
        Ok(self
            .workload_at
            .iter()
            .map(|at| verdicts[*at].clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::FaultClass;

    fn part(id: &str, line: &str) -> Sample {
        Sample {
            id: id.into(),
            lines: vec![line.into()],
            label: Some(FaultClass::NodeFailure),
            source: None,
        }
    }

    #[test]
    fn a_yarn_containers_workload_is_its_application_and_anything_else_is_itself() {
        let first = workload_of("hadoop/app_21/container_1445144423722_0021_01_000001");
        assert_eq!(
            first,
            Workload {
                path: "hadoop/app_21",
                application: Some("1445144423722_0021"),
            }
        );
        for same in [
            "hadoop/app_21/container_1445144423722_0021_02_000013",
            "hadoop/app_21/container_e17_1445144423722_0021_01_000002",
        ] {
            assert_eq!(workload_of(same), first, "{same}");
        }
        assert_ne!(
            workload_of("hadoop/app_21/container_1445144423722_0022_01_000001"),
            first
        );
        assert_ne!(
            workload_of("elsewhere/container_1445144423722_0021_01_000001"),
            first,
            "another parent path"
        );
        for own in [
            "k8s_train/001",
            "exolightor/f1",
            "nezha/2023-01-29-08_43/ts-auth-service",
            "hadoop/container_1445144423722_0021",
            "hadoop/container_1445144423722_0021_01_x",
            "container_e_1_2_3_4",
            "",
        ] {
            assert_eq!(workload_of(own).application, None, "{own}");
            assert_eq!(workload_of(own).path, own);
        }
        assert_eq!(workload_of("container_1_2_3_4").application, Some("1_2"));
        assert_eq!(workload_of("container_1_2_3_4").path, "");
        assert_eq!(
            application_prefix("hadoop/container_e17_1445144423722_0021_01_000002"),
            "hadoop/container_e17_1445144423722_0021"
        );
        assert_eq!(application_prefix("container_1_2_3_4"), "container_1_2");
        assert_eq!(application_prefix("k8s_train/001"), "k8s_train/001");
    }

    #[test]
    fn parts_are_pooled_in_order_and_each_gets_its_workloads_verdict() {
        let app = "hadoop/application_1_7";
        let samples = [
            part(&format!("{app}/container_1_7_01_000001"), "a"),
            part("k8s/1", "x"),
            part(&format!("{app}/container_1_7_01_000002"), "b"),
            part("k8s/2", "y"),
        ];
        let pooled = Pooled::of(&samples);
        let lines: Vec<&[String]> = pooled.samples.iter().map(|s| &s.lines[..]).collect();
        assert_eq!(lines, [&["a", "b"][..], &["x"][..], &["y"][..]]);
        assert_eq!(pooled.samples[0].id, samples[0].id);
        assert_eq!(
            pooled.spread(&["app", "k1", "k2"]).expect("spread"),
            ["app", "k1", "app", "k2"]
        );
        assert!(pooled.spread(&["app", "k1"]).is_err());
    }
}
