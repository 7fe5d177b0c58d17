//! [`WindowQuery`]: a window definition's SQL, planned once by DataFusion — down to its physical plan —
//! and executed over each micro-batch of records (as an Arrow `RecordBatch`) to get partial counts per
//! window and key. Physical planning took about 210 µs of a run's ~350 µs (release, this 2-core machine),
//! and enrich runs one query per input partition per batch, so each run puts its batch in the planned
//! scan's place, a [`BatchSlot`], and executes a reset copy of the planned plan — when the plan is one
//! that may run again that way ([`reusable`]: scans of
//! `records`, filters, projections, grouped aggregates, sorts without a limit). Any other plan (an
//! operator's SQL with a join, a subquery, `VALUES` or a `LIMIT`: operators that keep state from one
//! execution to the next) is planned again for every run, from the `records` table holding the batch.

use super::slot::{BatchSlot, Slot, lock};
use super::spec::PARTIAL_COLUMNS;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::MemTable;
use datafusion::datasource::memory::{MemorySourceConfig, PartitionData};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use std::sync::Arc;

/// One record's contribution to one window: a row of the `records` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRow<'a> {
    /// Window start, ns.
    pub window_start: i64,
    /// Window end, ns.
    pub window_end: i64,
    /// The record's event time, ns.
    pub event_time_ns: i64,
    /// Cluster, if known.
    pub cluster: Option<&'a str>,
    /// Namespace, if known.
    pub namespace: Option<&'a str>,
    /// Workload kind (`deployment`, …).
    pub kind: &'a str,
    /// Workload name.
    pub name: &'a str,
    /// Template id.
    pub template_id: &'a str,
    /// Template text.
    pub template: &'a str,
    /// Severity (`info`, `error`, …).
    pub severity: &'a str,
}

/// One row of a query's result: the count of records sharing a window and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialCount {
    /// Window start, ns.
    pub window_start: i64,
    /// Cluster.
    pub cluster: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Workload kind.
    pub kind: String,
    /// Workload name.
    pub name: String,
    /// Template id.
    pub template_id: String,
    /// Template text.
    pub template: String,
    /// Severity.
    pub severity: String,
    /// Records.
    pub records: u64,
}

/// The schema of the `records` table.
fn records_schema() -> SchemaRef {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("window_start", DataType::Int64, false),
        Field::new("window_end", DataType::Int64, false),
        Field::new("event_time_ns", DataType::Int64, false),
        text("cluster_name", true),
        text("namespace", true),
        text("kind", false),
        text("name", false),
        text("template_id", false),
        text("template", false),
        text("severity", false),
    ]))
}

/// Why a window query cannot be used or run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(String);

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        Self(error.to_string())
    }
}

/// A planned window query and the table it reads.
pub struct WindowQuery {
    context: SessionContext,
    /// The logical plan, planned again for each run when the physical plan is not [`reusable`].
    plan: LogicalPlan,
    /// The physical plan, its scans of the `records` table reading `slot`: each run puts its batch there.
    physical: Option<Arc<dyn ExecutionPlan>>,
    /// What the physical plan's scans read.
    slot: Slot,
    /// What each run of the physical plan executes in, made once: the session's state does not change
    /// after planning, and making it per run copied the whole session state (~1 % of enrich's CPU).
    task: Arc<TaskContext>,
    /// What the `records` table holds, for a run planned again.
    input: PartitionData,
    schema: SchemaRef,
}

impl std::fmt::Debug for WindowQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowQuery").finish_non_exhaustive()
    }
}

impl WindowQuery {
    /// Plans `sql` against the `records` table and checks it returns [`PARTIAL_COLUMNS`].
    ///
    /// # Errors
    /// The SQL or planning error, or the missing columns.
    pub fn plan(sql: &str) -> Result<Self, QueryError> {
        let schema = records_schema();
        let table = MemTable::try_new(Arc::clone(&schema), vec![Vec::new()])?;
        let input = Arc::clone(&table.batches[0]);
        // One partition: micro-batches are small, and the runner already parallelises by partition.
        let context =
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        context.register_table("records", Arc::new(table))?;
        let plan = futures::executor::block_on(context.sql(sql))?.into_optimized_plan()?;
        let columns: Vec<&str> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let missing: Vec<&str> = PARTIAL_COLUMNS
            .iter()
            .copied()
            .filter(|c| !columns.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(QueryError(format!(
                "the query must return the columns {}; missing: {}",
                PARTIAL_COLUMNS.join(", "),
                missing.join(", ")
            )));
        }
        let physical = futures::executor::block_on(
            DataFrame::new(context.state(), plan.clone()).create_physical_plan(),
        )?;
        let slot = Slot::default();
        let physical = if reusable(&physical, &schema) {
            Some(reading(&physical, &slot)?)
        } else {
            None
        };
        Ok(Self {
            task: context.task_ctx(),
            context,
            plan,
            physical,
            slot,
            input,
            schema,
        })
    }

    /// Whether each run reuses the physical plan (else it plans the query again).
    #[must_use]
    pub fn reuses_its_plan(&self) -> bool {
        self.physical.is_some()
    }

    /// Runs the query over `rows` and returns its partial counts. Takes `&mut self`: a run fills the
    /// plan's one batch slot, so two runs must never overlap.
    ///
    /// # Errors
    /// When DataFusion fails to execute (a query error that planning could not catch, such as a
    /// failing cast).
    pub fn run(&mut self, rows: &[WindowRow<'_>]) -> Result<Vec<PartialCount>, QueryError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.to_batch(rows)?;
        let result = match &self.physical {
            Some(physical) => {
                // Each run executes a copy of the plan with fresh operator state: an operator adds
                // its metrics for every execution to a list it keeps, so running one plan object
                // again and again would grow it without bound. The copy keeps every operator's
                // planned properties (DataFusion's reset for re-executing a plan), so it is cheap.
                let plan = reset_plan_states(Arc::clone(physical))?;
                *lock(&self.slot) = Some(batch);
                let result = futures::executor::block_on(datafusion::physical_plan::collect(
                    plan,
                    Arc::clone(&self.task),
                ));
                *lock(&self.slot) = None;
                result
            }
            None => {
                *self
                    .input
                    .try_write()
                    .map_err(|_| QueryError("the records table is busy".to_owned()))? = vec![batch];
                let frame = DataFrame::new(self.context.state(), self.plan.clone());
                let result = futures::executor::block_on(frame.collect());
                if let Ok(mut input) = self.input.try_write() {
                    input.clear();
                }
                result
            }
        };
        let mut partials = Vec::new();
        for batch in result? {
            read_partials(&batch, &mut partials)?;
        }
        Ok(partials)
    }

    /// How many metrics the kept physical plan's operators hold (none: each run executes a copy).
    #[cfg(test)]
    fn kept_metrics(&self) -> usize {
        let mut metrics = 0;
        if let Some(physical) = &self.physical {
            let _ = physical.apply(|node| {
                metrics += node.metrics().map_or(0, |m| m.iter().count());
                Ok(TreeNodeRecursion::Continue)
            });
        }
        metrics
    }

    fn to_batch(&self, rows: &[WindowRow<'_>]) -> Result<RecordBatch, QueryError> {
        let int = |f: fn(&WindowRow<'_>) -> i64| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<Int64Array>())
        };
        let opt = |f: for<'r> fn(&'r WindowRow<'_>) -> Option<&'r str>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let text = |f: for<'r> fn(&'r WindowRow<'_>) -> &'r str| -> ArrayRef {
            Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
        };
        let columns = vec![
            int(|r| r.window_start),
            int(|r| r.window_end),
            int(|r| r.event_time_ns),
            opt(|r| r.cluster),
            opt(|r| r.namespace),
            text(|r| r.kind),
            text(|r| r.name),
            text(|r| r.template_id),
            text(|r| r.template),
            text(|r| r.severity),
        ];
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| QueryError(e.to_string()))
    }
}

/// Whether `plan` may run again and again with a new batch in its scans' place: made only of scans of
/// the `records` table (`schema`, no limit), filters, projections, batch coalescing, sorts without a
/// limit and aggregates with a GROUP BY — none of which keeps state from one execution to the next, or
/// was planned from the empty table's statistics (an aggregate without GROUP BY can be answered from
/// them) — and reading `records` at least once.
fn reusable(plan: &Arc<dyn ExecutionPlan>, schema: &SchemaRef) -> bool {
    let mut scans = 0;
    let mut reusable = true;
    let _ = plan.apply(|node| {
        let fits = if let Some(memory) = memory_scan(node) {
            scans += 1;
            memory.original_schema() == *schema && node.fetch().is_none()
        } else if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            !aggregate.group_expr().is_empty()
        } else {
            match node.name() {
                "ProjectionExec" | "FilterExec" | "CoalesceBatchesExec" => true,
                "SortExec" => node.fetch().is_none(),
                _ => false,
            }
        };
        reusable &= fits;
        Ok(if fits {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    reusable && scans > 0
}

/// `node`'s in-memory source when it is a scan of an in-memory table (such as `records`).
fn memory_scan(node: &Arc<dyn ExecutionPlan>) -> Option<&MemorySourceConfig> {
    node.downcast_ref::<DataSourceExec>()
        .and_then(|scan| scan.data_source().downcast_ref::<MemorySourceConfig>())
}

/// `plan` with a [`BatchSlot`] reading `slot` in place of each of its scans of the `records` table (each
/// keeps its scan's projection and properties); `plan` is [`reusable`].
fn reading(
    plan: &Arc<dyn ExecutionPlan>,
    slot: &Slot,
) -> Result<Arc<dyn ExecutionPlan>, QueryError> {
    let rebound = Arc::clone(plan).transform_up(|node| {
        let Some(memory) = memory_scan(&node) else {
            return Ok(Transformed::no(node));
        };
        let scan: Arc<dyn ExecutionPlan> = Arc::new(BatchSlot::new(
            Arc::clone(slot),
            memory.projection().clone(),
            Arc::clone(node.properties()),
        ));
        Ok(Transformed::yes(scan))
    })?;
    Ok(rebound.data)
}

/// A result column as `T`, cast when the query produced another type (e.g. `Utf8View`, `UInt64`).
fn column<T: Array + Clone + 'static>(
    batch: &RecordBatch,
    name: &str,
    as_type: &DataType,
) -> Result<T, QueryError> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| QueryError(format!("the query result has no column {name}")))?;
    let cast = cast(column, as_type).map_err(|e| QueryError(format!("column {name}: {e}")))?;
    cast.as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| QueryError(format!("column {name} is not {as_type}")))
}

fn read_partials(batch: &RecordBatch, out: &mut Vec<PartialCount>) -> Result<(), QueryError> {
    let starts: Int64Array = column(batch, "window_start", &DataType::Int64)?;
    let records: Int64Array = column(batch, "records", &DataType::Int64)?;
    let texts: Vec<StringArray> = PARTIAL_COLUMNS[1..8]
        .iter()
        .map(|name| column(batch, name, &DataType::Utf8))
        .collect::<Result<_, _>>()?;
    let [
        cluster,
        namespace,
        kind,
        name,
        template_id,
        template,
        severity,
    ] = texts.as_slice()
    else {
        return Err(QueryError("unexpected result columns".to_owned()));
    };
    let get =
        |array: &StringArray, i: usize| (!array.is_null(i)).then(|| array.value(i).to_owned());
    for i in 0..batch.num_rows() {
        if starts.is_null(i) || records.is_null(i) {
            continue;
        }
        out.push(PartialCount {
            window_start: starts.value(i),
            cluster: get(cluster, i),
            namespace: get(namespace, i),
            kind: get(kind, i).unwrap_or_default(),
            name: get(name, i).unwrap_or_default(),
            template_id: get(template_id, i).unwrap_or_default(),
            template: get(template, i).unwrap_or_default(),
            severity: get(severity, i).unwrap_or_default(),
            records: u64::try_from(records.value(i)).unwrap_or(0),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        start: i64,
        name: &'a str,
        template_id: &'a str,
        severity: &'a str,
    ) -> WindowRow<'a> {
        WindowRow {
            window_start: start,
            window_end: start + 60,
            event_time_ns: start + 1,
            cluster: None,
            namespace: Some("shop"),
            kind: "deployment",
            name,
            template_id,
            template: "tpl",
            severity,
        }
    }

    /// Each workload's record count in `partials`, sorted by name.
    fn count(partials: Vec<PartialCount>) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> =
            partials.into_iter().map(|p| (p.name, p.records)).collect();
        counts.sort();
        counts
    }

    #[test]
    fn each_run_reads_its_own_batch_only_and_leaves_the_plan_as_it_was() {
        let mut query = WindowQuery::plan(super::super::spec::DEFAULT_SQL).expect("plans");
        assert!(query.reuses_its_plan());
        let web = [row(0, "web", "t1", "info"), row(0, "web", "t1", "info")];
        let db = [row(0, "db", "t1", "info")];
        for _ in 0..3 {
            assert_eq!(count(query.run(&web).expect("runs")), [("web".into(), 2)]);
            assert_eq!(count(query.run(&db).expect("runs")), [("db".into(), 1)]);
        }
        assert!(query.run(&[]).expect("runs").is_empty());
        // An operator keeps the metrics of every execution: runs of the kept plan itself would grow
        // them (and the process) without bound.
        assert_eq!(query.kept_metrics(), 0);
    }

    #[test]
    fn a_plan_that_keeps_state_between_runs_is_planned_again_for_each() {
        let select = "SELECT window_start, cluster_name, namespace, kind, name, template_id, \
                      min(template) AS template, severity, count(*) AS records";
        let group =
            "GROUP BY window_start, cluster_name, namespace, kind, name, template_id, severity";
        let reused = [
            format!("{select} FROM records WHERE severity <> 'debug' {group}"),
            super::super::spec::DEFAULT_SQL.to_owned(),
        ];
        let planned_again = [
            // A subquery (a hash join whose build side is kept), a limit, VALUES.
            format!(
                "{select} FROM records WHERE name IN (SELECT name FROM records WHERE severity = 'error') {group}"
            ),
            format!(
                "{select} FROM (SELECT * FROM records ORDER BY event_time_ns LIMIT 1000) {group}"
            ),
            format!(
                "{select} FROM records JOIN (VALUES ('web'), ('db')) AS known(known) ON name = known {group}"
            ),
        ];
        let web = [row(0, "web", "t1", "error"), row(0, "web", "t1", "error")];
        let db = [row(0, "db", "t1", "error")];
        for (sql, reuses) in reused
            .iter()
            .map(|s| (s, true))
            .chain(planned_again.iter().map(|s| (s, false)))
        {
            let mut query = WindowQuery::plan(sql).expect("plans");
            assert_eq!(query.reuses_its_plan(), reuses, "{sql}");
            for _ in 0..2 {
                assert_eq!(
                    count(query.run(&web).expect("runs")),
                    [("web".into(), 2)],
                    "{sql}"
                );
                assert_eq!(
                    count(query.run(&db).expect("runs")),
                    [("db".into(), 1)],
                    "{sql}"
                );
            }
        }
    }

    #[test]
    fn counts_rows_per_window_and_key() {
        let mut query = WindowQuery::plan(super::super::spec::DEFAULT_SQL).expect("plans");
        let rows = [
            row(0, "web", "t1", "error"),
            row(0, "web", "t1", "error"),
            row(0, "web", "t2", "info"),
            row(60, "web", "t1", "error"),
            row(0, "db", "t1", "error"),
        ];
        let mut partials = query.run(&rows).expect("runs");
        partials.sort_by(|a, b| {
            (a.window_start, &a.name, &a.template_id).cmp(&(
                b.window_start,
                &b.name,
                &b.template_id,
            ))
        });
        let summary: Vec<(i64, &str, &str, u64)> = partials
            .iter()
            .map(|p| {
                (
                    p.window_start,
                    p.name.as_str(),
                    p.template_id.as_str(),
                    p.records,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, "db", "t1", 1),
                (0, "web", "t1", 2),
                (0, "web", "t2", 1),
                (60, "web", "t1", 1)
            ]
        );
        assert_eq!(partials[0].namespace.as_deref(), Some("shop"));
        assert_eq!(partials[0].cluster, None);
        // The plan is reused: a second micro-batch sees only its own rows.
        let again = query.run(&rows[..1]).expect("runs");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].records, 1);
    }

    #[test]
    fn operators_can_filter_and_bad_queries_are_refused() {
        let mut filtered = WindowQuery::plan(
            "SELECT window_start, cluster_name, namespace, kind, name, template_id, min(template) AS template, \
             severity, count(*) AS records FROM records WHERE severity <> 'info' \
             GROUP BY window_start, cluster_name, namespace, kind, name, template_id, severity",
        )
        .expect("plans");
        let rows = [row(0, "web", "t1", "error"), row(0, "web", "t2", "info")];
        assert_eq!(filtered.run(&rows).expect("runs").len(), 1);
        let missing = WindowQuery::plan(
            "SELECT window_start, count(*) AS records FROM records GROUP BY window_start",
        )
        .expect_err("columns missing");
        assert!(
            missing.to_string().contains("missing: cluster_name"),
            "{missing}"
        );
        assert!(WindowQuery::plan("SELEKT nonsense").is_err());
        assert!(WindowQuery::plan("SELECT * FROM nowhere").is_err());
    }
}
