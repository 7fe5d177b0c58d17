//! Fine-tuning: the upper encoder layers and the head, with AdamW, class weights and early stopping on the
//! dev split, then temperature scaling on it.

use super::classifier::{
    Classifier, ClassifierError, ClassifierSpec, Prediction, file, predictions, sha256_file,
};
use super::condense::Condensed;
use super::encoder::UpperEncoder;
use super::encoder::{LowerEncoder, base_layer_name, load_base_config, load_base_tensors};
use super::files::{BASE_MODEL_ID, BaseModelFiles};
use super::network::{Network, SampleRows, distinct_rows};
use crate::lab::corpus::Sample;
use crate::lab::metrics::Scores;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use schemas::FaultClass;
use schemas::rng::Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Knobs of a fine-tuning run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainOptions {
    /// Encoder layers fine-tuned (the rest stay frozen). Default 1 of MiniLM's 6.
    pub upper_layers: usize,
    /// Tokens per line. Default 64.
    pub max_tokens: usize,
    /// Distinct lines per sample. Default 128.
    pub max_distinct: usize,
    /// Epochs at most. Default 40.
    pub epochs: usize,
    /// Epochs in which the encoder layers are tuned; later epochs train the head alone on their (then
    /// fixed) outputs, which costs milliseconds instead of a minute. Default 4.
    pub encoder_epochs: usize,
    /// Epochs without a better dev macro-F1 before stopping. Default 8.
    pub patience: usize,
    /// Samples per step. Default 16.
    pub batch: usize,
    /// Learning rate of the encoder layers. Default 1e-4.
    pub encoder_lr: f64,
    /// Learning rate of the head. Default 1e-3.
    pub head_lr: f64,
    /// Dropout on the head's input while training. Default 0.1.
    pub dropout: f32,
    /// Seed of the head's initialisation, the shuffling, dropout and mixing.
    pub seed: u64,
    /// Also train on each short fault sample (≤ 10 lines) mixed into the lines of a normal training sample,
    /// as it appears in a real window: a few telling lines among ordinary traffic. Default false: measured
    /// on the shipped corpus it lowered dev macro-F1 from 0.79 to 0.52 (normal Hadoop containers, whose
    /// faulty siblings carry fault labels, make poor background); the stage's per-line check covers windows
    /// instead (see `WindowedDiagnose`).
    pub mix_into_background: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            upper_layers: 1,
            max_tokens: 64,
            max_distinct: 128,
            epochs: 40,
            encoder_epochs: 4,
            patience: 8,
            batch: 16,
            encoder_lr: 1e-4,
            head_lr: 1e-3,
            dropout: 0.1,
            seed: 17,
            mix_into_background: false,
        }
    }
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Distinct texts run through the frozen layers so far.
    Encoding {
        /// Done.
        done: usize,
        /// All.
        total: usize,
    },
    /// A training step finished.
    Step {
        /// Epoch (1-based).
        epoch: usize,
        /// Steps done in this epoch.
        step: usize,
        /// Steps per epoch.
        steps: usize,
    },
    /// An epoch finished and was scored on dev.
    Epoch(EpochReport),
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Dev macro-F1.
    pub dev_macro_f1: f64,
    /// Dev accuracy.
    pub dev_accuracy: f64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Options used.
    pub options: TrainOptions,
    /// Training samples per class.
    pub train_counts: HashMap<FaultClass, usize>,
    /// Dev samples per class.
    pub dev_counts: HashMap<FaultClass, usize>,
    /// Per epoch.
    pub history: Vec<EpochReport>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Dev scores of the kept weights.
    pub dev: Scores,
    /// Fitted temperature.
    pub temperature: f64,
    /// Dev negative log-likelihood before and after temperature scaling.
    pub dev_nll: (f64, f64),
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The best epoch so far: (dev macro-F1, epoch, every variable with a copy of its value then).
type Best = (f64, usize, Vec<(Var, Tensor)>);

/// Shuffles `items` in place (Fisher–Yates, index by modulo: the stream this crate's models were trained with).
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
}

/// Lower-layer states of every distinct text of the corpus.
struct LowerCache {
    states: HashMap<String, Tensor>,
}

impl LowerCache {
    fn build(
        lower: &LowerEncoder,
        samples: &[&Condensed],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, ClassifierError> {
        let mut texts: Vec<&str> = samples
            .iter()
            .flat_map(|s| &s.texts)
            .map(String::as_str)
            .collect();
        texts.sort_unstable();
        texts.dedup();
        let mut states = HashMap::with_capacity(texts.len());
        for (i, chunk) in texts.chunks(256).enumerate() {
            for (text, state) in chunk.iter().zip(lower.encode(chunk)?) {
                states.insert((*text).to_owned(), state);
            }
            progress(Progress::Encoding {
                done: (i * 256 + chunk.len()).min(texts.len()),
                total: texts.len(),
            });
        }
        Ok(Self { states })
    }

    /// The batch's distinct lower states and each sample's rows among them.
    /// Every text's pooled output of `upper`, and each text's row.
    fn pooled_all(
        &self,
        upper: &UpperEncoder,
    ) -> Result<(Tensor, HashMap<String, u32>), ClassifierError> {
        let texts: Vec<&String> = self.states.keys().collect();
        let mut parts = Vec::new();
        for chunk in texts.chunks(64) {
            let states: Vec<&Tensor> = chunk.iter().map(|t| &self.states[*t]).collect();
            parts.push(upper.pooled(&states)?.detach());
        }
        let rows = texts
            .iter()
            .enumerate()
            .map(|(i, t)| ((*t).clone(), i as u32))
            .collect();
        Ok((Tensor::cat(&parts, 0)?, rows))
    }

    fn batch<'a>(&'a self, samples: &[&Condensed]) -> (Vec<&'a Tensor>, Vec<SampleRows>) {
        let (distinct, rows) = distinct_rows(samples);
        (distinct.iter().map(|t| &self.states[*t]).collect(), rows)
    }
}

/// A fine-tuned model, in memory, ready to be saved.
pub struct Trained {
    spec: ClassifierSpec,
    varmap: VarMap,
}

impl Trained {
    /// Writes `spec.json` and `model.safetensors` into `dir` (created if needed); returns the spec
    /// with the weights' hash filled in.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn save(&self, dir: &Path) -> Result<ClassifierSpec, ClassifierError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ClassifierError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let weights = dir.join(file::WEIGHTS);
        let tensors: HashMap<String, Tensor> = self
            .varmap
            .data()
            .lock()
            .map_err(|_| ClassifierError::Invalid {
                path: weights.clone(),
                message: "variable map poisoned".into(),
            })?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        candle_core::safetensors::save(&tensors, &weights)?;
        let spec = ClassifierSpec {
            weights_sha256: sha256_file(&weights)?,
            ..self.spec.clone()
        };
        let spec_path = dir.join(file::SPEC);
        let json = serde_json::to_string_pretty(&spec).map_err(|e| ClassifierError::Invalid {
            path: spec_path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&spec_path, json + "\n").map_err(io(&spec_path))?;
        Ok(spec)
    }
}

/// Fine-tunes a classifier on `train`, selecting and calibrating on `dev`.
///
/// # Errors
/// Model files missing or computation failed.
pub fn train(
    base: &BaseModelFiles,
    train: &[Sample],
    dev: &[Sample],
    options: &TrainOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Trained, TrainReport), ClassifierError> {
    let started = std::time::Instant::now();
    let config = load_base_config(base)?;
    let base_tensors = load_base_tensors(base)?;
    let upper_layers = options.upper_layers.min(config.num_hidden_layers);
    let lower_layers = config.num_hidden_layers - upper_layers;
    let lower = LowerEncoder::new(
        base,
        &base_tensors,
        &config,
        lower_layers,
        options.max_tokens,
    )?;
    let labels: Vec<FaultClass> = FaultClass::ALL
        .into_iter()
        .filter(|c| train.iter().any(|s| s.label == Some(*c)))
        .collect();
    let label_index = |c: FaultClass| labels.iter().position(|l| *l == c);
    let condense = |s: &[Sample]| -> Vec<(Condensed, usize)> {
        s.iter()
            .filter_map(|s| {
                let label = label_index(s.label?)?;
                Some((Condensed::new(&s.lines, options.max_distinct), label))
            })
            .collect()
    };
    // Mixed copies in dev too, so early stopping favours a model that finds evidence among noise.
    let (mixed_train, mixed_dev);
    let (train, dev) = if options.mix_into_background {
        let mut rng = Rng::from_state(options.seed ^ 0x5eed);
        mixed_train = mixed_into_background(train, &mut rng);
        mixed_dev = mixed_into_background(dev, &mut rng);
        (mixed_train.as_slice(), mixed_dev.as_slice())
    } else {
        (train, dev)
    };
    let (train_set, dev_set) = (condense(train), condense(dev));
    let all: Vec<&Condensed> = train_set.iter().chain(&dev_set).map(|(c, _)| c).collect();
    let cache = LowerCache::build(&lower, &all, progress)?;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let network = Network::new(&vb, &config, upper_layers, labels.len())?;
    let mut rng = Rng::from_state(options.seed);
    let (encoder_vars, head_vars) = initialise(&varmap, &base_tensors, lower_layers, &mut rng)?;
    let adamw = |vars, lr| {
        AdamW::new(
            vars,
            ParamsAdamW {
                lr,
                weight_decay: 0.01,
                ..ParamsAdamW::default()
            },
        )
    };
    let mut encoder_opt = adamw(encoder_vars, options.encoder_lr)?;
    let mut head_opt = adamw(head_vars, options.head_lr)?;
    let class_weights = class_weights(&train_set, labels.len());

    let mut history = Vec::new();
    let mut best: Option<Best> = None;
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    let steps = order.len().div_ceil(options.batch.max(1));
    let mut frozen: Option<(Tensor, HashMap<String, u32>)> = None;
    for epoch in 1..=options.epochs {
        if epoch > options.encoder_epochs && frozen.is_none() {
            // From here on only the head learns: restore the best weights so far and fix the encoder.
            if let Some((_, _, snapshot)) = &best {
                for (var, value) in snapshot {
                    var.set(value)?;
                }
            }
            frozen = Some(cache.pooled_all(&network.upper)?);
        }
        shuffle(&mut order, &mut rng);
        let mut loss_sum = 0.0;
        for (step, chunk) in order.chunks(options.batch.max(1)).enumerate() {
            let samples: Vec<&Condensed> = chunk.iter().map(|&i| &train_set[i].0).collect();
            let targets: Vec<usize> = chunk.iter().map(|&i| train_set[i].1).collect();
            let summary = match &frozen {
                Some((pooled, index)) => {
                    let rows: Vec<SampleRows> = samples
                        .iter()
                        .map(|s| {
                            SampleRows::new(s, s.texts.iter().map(|t| index[t.as_str()]).collect())
                        })
                        .collect();
                    network.summary(pooled, &rows)?
                }
                None => {
                    let (lower_states, rows) = cache.batch(&samples);
                    let pooled = network.upper.pooled(&lower_states)?;
                    network.summary(&pooled, &rows)?
                }
            };
            let summary = dropout(&summary, options.dropout, &mut rng)?;
            let logits = network.head(&summary, 0.0)?;
            let loss = weighted_cross_entropy(&logits, &targets, &class_weights)?;
            let grads = loss.backward()?;
            if frozen.is_none() {
                encoder_opt.step(&grads)?;
            }
            head_opt.step(&grads)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            progress(Progress::Step {
                epoch,
                step: step + 1,
                steps,
            });
        }
        let (dev_logits, dev_targets) = logits_of(&network, &cache, &dev_set)?;
        let dev_scores = score(&dev_logits, 1.0, &labels, &dev_targets)?;
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / steps.max(1) as f64,
            dev_macro_f1: dev_scores.macro_f1,
            dev_accuracy: dev_scores.accuracy,
        };
        progress(Progress::Epoch(report.clone()));
        history.push(report);
        if best
            .as_ref()
            .is_none_or(|(f1, _, _)| dev_scores.macro_f1 > *f1)
        {
            let snapshot = varmap
                .all_vars()
                .into_iter()
                .map(|v| {
                    let copy = v.as_tensor().copy()?;
                    Ok((v, copy))
                })
                .collect::<candle_core::Result<_>>()?;
            best = Some((dev_scores.macro_f1, epoch, snapshot));
        } else if best
            .as_ref()
            .is_some_and(|(_, at, _)| epoch - at >= options.patience)
        {
            break;
        }
    }
    let (_, best_epoch, snapshot) = best.ok_or_else(|| ClassifierError::Invalid {
        path: base.dir.clone(),
        message: "no epoch ran (epochs = 0?)".into(),
    })?;
    for (var, value) in snapshot {
        var.set(&value)?;
    }
    let (dev_logits, dev_targets) = logits_of(&network, &cache, &dev_set)?;
    let before = nll(&dev_logits, 1.0, &dev_targets)?;
    let temperature = fit_temperature(&dev_logits, &dev_targets)?;
    let after = nll(&dev_logits, temperature, &dev_targets)?;
    let dev_scores = score(&dev_logits, temperature, &labels, &dev_targets)?;
    let counts = |set: &[(Condensed, usize)]| {
        let mut counts = HashMap::new();
        for (_, l) in set {
            *counts.entry(labels[*l]).or_insert(0) += 1;
        }
        counts
    };
    let spec = ClassifierSpec {
        base_model: BASE_MODEL_ID.to_owned(),
        base_sha256: sha256_file(&base.weights())?,
        lower_layers,
        upper_layers,
        max_tokens: options.max_tokens,
        max_distinct: options.max_distinct,
        labels: labels.clone(),
        temperature,
        weights_sha256: String::new(),
    };
    let report = TrainReport {
        options: options.clone(),
        train_counts: counts(&train_set),
        dev_counts: counts(&dev_set),
        history,
        best_epoch,
        dev: dev_scores,
        temperature,
        dev_nll: (before, after),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((Trained { spec, varmap }, report))
}

/// Short evidence (fault samples of at most this many lines) gets a mixed copy.
const SHORT_EVIDENCE: usize = 10;
/// Background lines a mixed copy takes from a normal sample at most.
const BACKGROUND_LINES: usize = 40;

/// The training set plus, for each short fault sample, a copy whose lines are inserted at random places
/// into a random slice of a normal sample with at least 5 lines.
fn mixed_into_background(train: &[Sample], rng: &mut Rng) -> Vec<Sample> {
    let background: Vec<&Sample> = train
        .iter()
        .filter(|s| s.label == Some(FaultClass::Normal) && s.lines.len() >= 5)
        .collect();
    let mut out = train.to_vec();
    if background.is_empty() {
        return out;
    }
    for sample in train {
        if sample.label == Some(FaultClass::Normal) || sample.lines.len() > SHORT_EVIDENCE {
            continue;
        }
        let host = background[(rng.next_u64() % background.len() as u64) as usize];
        let take = host.lines.len().min(BACKGROUND_LINES);
        let from = (rng.next_u64() % (host.lines.len() - take + 1) as u64) as usize;
        let mut lines: Vec<String> = host.lines[from..from + take].to_vec();
        for line in &sample.lines {
            let at = (rng.next_u64() % (lines.len() as u64 + 1)) as usize;
            lines.insert(at, line.clone());
        }
        out.push(Sample {
            id: format!("{}#in-{}", sample.id, host.id),
            lines,
            label: sample.label,
            source: sample.source.clone(),
        });
    }
    out
}

/// Copies the base model's weights into the upper layers; gives the head a seeded initialisation.
/// Returns (encoder variables, head variables).
fn initialise(
    varmap: &VarMap,
    base: &HashMap<String, Tensor>,
    first_upper: usize,
    rng: &mut Rng,
) -> Result<(Vec<Var>, Vec<Var>), ClassifierError> {
    let vars = varmap.data().lock().map_err(|_| ClassifierError::Invalid {
        path: "varmap".into(),
        message: "variable map poisoned".into(),
    })?;
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let (mut encoder, mut head) = (Vec::new(), Vec::new());
    for name in names {
        let var = &vars[name];
        if let Some(upper) = name.strip_prefix("upper.") {
            let source = base_layer_name(upper, first_upper);
            let value = base.get(&source).ok_or_else(|| ClassifierError::Invalid {
                path: source.clone().into(),
                message: "tensor missing from the base model".into(),
            })?;
            var.set(value)?;
            encoder.push(var.clone());
        } else {
            let shape = var.shape().clone();
            let value = if name.ends_with(".weight") {
                let fan_in = shape.dims().last().copied().unwrap_or(1) as f32;
                let bound = 1.0 / fan_in.sqrt();
                let values = (0..shape.elem_count())
                    .map(|_| (rng.unit_f32() * 2.0 - 1.0) * bound)
                    .collect::<Vec<_>>();
                Tensor::from_vec(values, shape, &Device::Cpu)?
            } else {
                Tensor::zeros(shape, DType::F32, &Device::Cpu)?
            };
            var.set(&value)?;
            head.push(var.clone());
        }
    }
    Ok((encoder, head))
}

/// Inverse-frequency class weights, `n / (classes × n_c)`, capped at 5.
fn class_weights(set: &[(Condensed, usize)], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for (_, l) in set {
        counts[*l] += 1;
    }
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                (set.len() as f32 / (classes as f32 * c as f32)).min(5.0)
            }
        })
        .collect()
}

fn dropout(x: &Tensor, p: f32, rng: &mut Rng) -> candle_core::Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.unit_f32() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
        .collect();
    x * Tensor::from_vec(mask, x.shape(), x.device())?
}

fn weighted_cross_entropy(
    logits: &Tensor,
    targets: &[usize],
    weights: &[f32],
) -> candle_core::Result<Tensor> {
    let device = logits.device();
    let log_probs = candle_nn::ops::log_softmax(logits, 1)?;
    let index: Vec<u32> = targets.iter().map(|&t| t as u32).collect();
    let index = Tensor::from_vec(index, (targets.len(), 1), device)?;
    let picked = log_probs.gather(&index, 1)?.squeeze(1)?;
    let w: Vec<f32> = targets.iter().map(|&t| weights[t]).collect();
    let total: f32 = w.iter().sum::<f32>().max(f32::EPSILON);
    let w = Tensor::from_vec(w, targets.len(), device)?;
    (picked * w)?
        .sum_all()?
        .affine(-1.0 / f64::from(total), 0.0)
}

fn logits_of(
    network: &Network,
    cache: &LowerCache,
    set: &[(Condensed, usize)],
) -> Result<(Tensor, Vec<usize>), ClassifierError> {
    let mut parts = Vec::new();
    for chunk in set.chunks(64) {
        let samples: Vec<&Condensed> = chunk.iter().map(|(c, _)| c).collect();
        let (lower, rows) = cache.batch(&samples);
        parts.push(network.logits(&lower, &rows, 0.0)?.detach());
    }
    Ok((
        Tensor::cat(&parts, 0)?,
        set.iter().map(|(_, l)| *l).collect(),
    ))
}

fn score(
    logits: &Tensor,
    temperature: f64,
    labels: &[FaultClass],
    targets: &[usize],
) -> Result<Scores, ClassifierError> {
    let predicted: Vec<FaultClass> = predictions(logits, temperature, labels)?
        .into_iter()
        .map(|p: Prediction| p.fault)
        .collect();
    let truth: Vec<FaultClass> = targets.iter().map(|&t| labels[t]).collect();
    Ok(Scores::new(&truth, &predicted))
}

fn nll(logits: &Tensor, temperature: f64, targets: &[usize]) -> Result<f64, ClassifierError> {
    let ones = vec![1.0; logits.dim(1)?];
    let loss = weighted_cross_entropy(&(logits / temperature)?, targets, &ones)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
}

/// The temperature in `[0.25, 10]` (log grid) that minimises the dev negative log-likelihood.
fn fit_temperature(logits: &Tensor, targets: &[usize]) -> Result<f64, ClassifierError> {
    let mut best = (f64::INFINITY, 1.0);
    for step in 0..=60 {
        let t = 0.25 * 40f64.powf(f64::from(step) / 60.0);
        let loss = nll(logits, t, targets)?;
        if loss < best.0 {
            best = (loss, t);
        }
    }
    Ok(best.1)
}

impl Classifier {
    /// Loads what [`train`] produced and [`Trained::save`] wrote (used right after training).
    ///
    /// # Errors
    /// As [`Classifier::load`].
    pub fn load_trained(dir: &Path, base: &BaseModelFiles) -> Result<Self, ClassifierError> {
        Self::load(dir, Some(&base.dir))
    }
}
