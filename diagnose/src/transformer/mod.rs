//! The fine-tuned transformer: all-MiniLM-L6-v2 (BERT, 6 layers) with its top layers and a classification
//! head trained on labelled evidence.
//!
//! ```text
//!  lines ──► condense (distinct texts, counts, tail counts)
//!            │
//!            ▼  per distinct text (cached)
//!  tokenizer → embeddings → lower layers (frozen) → upper layers (fine-tuned) → mean pool
//!            │
//!            ▼  per sample
//!  [weighted mean | tail mean | max | sequence features] → head (MLP) → softmax(logits / T)
//! ```

#[cfg(feature = "lab")]
mod card;
mod classifier;
mod condense;
mod encoder;
mod files;
mod layer;
mod network;
#[cfg(feature = "lab")]
mod train;

#[cfg(feature = "lab")]
pub use card::{DataFile, ModelCard};
pub use classifier::{
    Classifier, ClassifierError, ClassifierSpec, EmbeddingCache, Prediction, file, sha256_file,
};
pub use condense::Condensed;
pub use encoder::{LowerEncoder, UpperEncoder, load_base_config, load_base_tensors};
pub use files::{
    BASE_MODEL_ID, BaseModelFiles, BaseModelNotFound, DownloadError, download_base_model,
    resolve_base_model,
};
pub use network::{SampleRows, distinct_rows, summarise};
#[cfg(feature = "lab")]
pub use train::{EpochReport, Progress, TrainOptions, TrainReport, Trained, train};
