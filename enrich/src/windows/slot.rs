//! [`BatchSlot`]: the scan of a window query's `records` table as a slot that each run fills, so a query
//! planned once runs over every micro-batch without its plan being planned or rebound again.
//!
//! Before the slot, each run rebuilt the plan around a new in-memory scan (`transform_up`, which also
//! recomputes the properties of every operator above it): about 6 % of enrich's CPU. The slot takes the
//! place of the in-memory scans once, at planning, with their projection and properties; each run puts
//! its batch in it and executes a reset copy of the plan (fresh operator state, the planned properties
//! kept; see `WindowQuery::run`).

use datafusion::arrow::array::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The batch a run reads, shared by the query and the scans in its plan.
pub type Slot = Arc<Mutex<Option<RecordBatch>>>;

/// What `slot` holds (a panic elsewhere while it was held leaves a batch that is still whole).
pub fn lock(slot: &Slot) -> MutexGuard<'_, Option<RecordBatch>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A leaf of a physical plan that yields the batch in its slot (projected like the scan it replaced),
/// one partition, one batch.
#[derive(Debug)]
pub struct BatchSlot {
    slot: Slot,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl BatchSlot {
    /// A scan of `slot` that yields the columns `projection` picks (all when `None`), with the
    /// `properties` of the scan it stands for.
    #[must_use]
    pub fn new(
        slot: Slot,
        projection: Option<Vec<usize>>,
        properties: Arc<PlanProperties>,
    ) -> Self {
        Self {
            slot,
            projection,
            properties,
        }
    }
}

impl DisplayAs for BatchSlot {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BatchSlot: projection={:?}", self.projection)
    }
}

impl ExecutionPlan for BatchSlot {
    fn name(&self) -> &'static str {
        "BatchSlot"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)] // still required by the trait; a leaf has no children to replace
    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, _: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let batch = lock(&self.slot)
            .clone()
            .ok_or_else(|| DataFusionError::Internal("the batch slot is empty".to_owned()))?;
        let batch = match &self.projection {
            Some(columns) => batch.project(columns)?,
            None => batch,
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::iter([Ok(batch)]),
        )))
    }
}
