//! `medic train classifier`, `medic eval classifier` and `medic classify`.

use anyhow::Context;
use diagnose::FaultModel;
use diagnose::lab::baselines::{
    frozen_embedding_predict, keyword_predict, ngram_predict, tfidf_predict,
};
use diagnose::lab::corpus::{Sample, read_corpus, read_jsonl, split_dev};
use diagnose::lab::metrics::Scores;
use diagnose::lab::workload::Pooled;
use diagnose::transformer::{ModelCard, Progress, TrainOptions, resolve_base_model, train};
use schemas::FaultClass;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Share of each class's groups held out as dev.
pub const DEV_SHARE: f64 = 0.2;

/// The classifier the pipeline's diagnose stage uses by default (`models/ngram`).
#[must_use]
pub fn default_model_dir() -> PathBuf {
    diagnose::DiagnoseConfig::default().classifier_dir()
}

/// The `.jsonl` files the corpus paths stand for.
fn data_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Every labelled sample of the corpus paths.
fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for path in paths {
        samples.extend(read_corpus(path)?);
    }
    Ok(samples)
}

/// A one-line progress bar on stderr.
fn render(progress: &Progress) {
    use crate::progress::bar;
    let line = match progress {
        Progress::Encoding { done, total } => format!("encoding lines {}", bar(*done, *total)),
        Progress::Step { epoch, step, steps } => format!("epoch {epoch:>2} {}", bar(*step, *steps)),
        Progress::Epoch(e) => format!(
            "epoch {:>2} loss {:.4}  dev macro-F1 {:.3}  accuracy {:.3}\n",
            e.epoch, e.train_loss, e.dev_macro_f1, e.dev_accuracy
        ),
    };
    crate::progress::redraw(&line);
}

/// Fine-tunes a classifier on `data` (a `.jsonl` file or a directory of them) and writes it to `out`.
///
/// # Errors
/// Unreadable data, missing base model, failed training or writing.
pub fn train_classifier(
    data: &[PathBuf],
    out: &Path,
    base: Option<&Path>,
    options: &TrainOptions,
    dev_out: Option<&Path>,
) -> anyhow::Result<()> {
    let samples = read_all(data)?;
    let base = resolve_base_model(base)?;
    let (train_set, dev_set) = split_dev(&samples, DEV_SHARE, options.seed);
    eprintln!(
        "training on {} samples, dev {} (base model {})",
        train_set.len(),
        dev_set.len(),
        base.dir.display()
    );
    if let Some(path) = dev_out {
        let text: String = dev_set
            .iter()
            .map(|s| serde_json::to_string(s).map(|l| l + "\n"))
            .collect::<Result<_, _>>()?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let (trained, report) = train(&base, &train_set, &dev_set, options, &mut |p| render(&p))?;
    eprintln!();
    let spec = trained.save(out)?;
    let command = format!(
        "medic train classifier {} --out {} --seed {} --upper-layers {} --epochs {} --encoder-epochs {}",
        data_flags(data),
        out.display(),
        options.seed,
        options.upper_layers,
        options.epochs,
        options.encoder_epochs,
    );
    ModelCard::new(spec, &data_files(data)?, report.clone(), command)?.write(out)?;
    eprintln!(
        "dev macro-F1 {:.3} (epoch {}), temperature {:.2}; wrote {}",
        report.dev.macro_f1,
        report.best_epoch,
        report.temperature,
        out.display()
    );
    Ok(())
}

/// The scores of every model on one evaluation file.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    /// The evaluation file.
    pub data: PathBuf,
    /// Where the baselines were trained (the same training split as the transformer).
    pub train_data: Vec<PathBuf>,
    /// The fine-tuned model.
    pub model: String,
    /// Scores by model: `shipped` (the classifier in `--model`), `keyword_rules`, `tfidf_logreg`,
    /// `ngram_logreg`, `ngram_svm`, `frozen_embedding_logreg`.
    pub models: std::collections::BTreeMap<&'static str, Scores>,
}

/// Scores the fine-tuned classifier and the baselines on `data`.
///
/// # Errors
/// Unreadable data or model.
pub fn eval_classifier(
    data: &Path,
    model_dir: &Path,
    train_data: &[PathBuf],
    base: Option<&Path>,
    seed: u64,
    ngram: diagnose::ngram::NgramOptions,
) -> anyhow::Result<EvalReport> {
    let test = read_jsonl(data, true)?;
    let truth: Vec<FaultClass> = test.iter().filter_map(|s| s.label).collect();
    let pooled = Pooled::of(&test);
    let scored = |verdicts: &[FaultClass]| -> anyhow::Result<Scores> {
        Ok(Scores::new(
            &truth,
            &pooled.spread(verdicts).map_err(anyhow::Error::msg)?,
        ))
    };
    let mut classifier = load_model(model_dir, base)?;
    let (train_set, _) = split_dev(&read_all(train_data)?, DEV_SHARE, seed);
    let base_files = resolve_base_model(base)?;
    let shipped: Vec<FaultClass> = predict(&mut classifier, &pooled.samples)?
        .into_iter()
        .map(|p| p.fault)
        .collect();
    let options = TrainOptions::default();
    let frozen = frozen_embedding_predict(
        &base_files,
        &train_set,
        &pooled.samples,
        options.max_tokens,
        options.max_distinct,
    )?;
    let mut models = std::collections::BTreeMap::new();
    models.insert("shipped", scored(&shipped)?);
    models.insert("keyword_rules", scored(&keyword_predict(&pooled.samples))?);
    models.insert(
        "tfidf_logreg",
        scored(&tfidf_predict(&train_set, &pooled.samples)?)?,
    );
    let (logistic, hinge) = ngram_pair(ngram);
    for (name, options) in [("ngram_logreg", logistic), ("ngram_svm", hinge)] {
        models.insert(
            name,
            scored(&ngram_predict(&train_set, &pooled.samples, options))?,
        );
    }
    models.insert("frozen_embedding_logreg", scored(&frozen)?);
    Ok(EvalReport {
        data: data.to_owned(),
        train_data: train_data.to_vec(),
        model: classifier.model_id(),
        models,
    })
}

/// A finite weight ≥ 0.
fn non_negative_weight(text: &str) -> Result<f32, String> {
    let weight: f32 = text.parse().map_err(|e| format!("{e}"))?;
    (weight.is_finite() && weight >= 0.0)
        .then_some(weight)
        .ok_or_else(|| format!("{text} is not a finite number ≥ 0"))
}

/// The options of the two n-gram models every evaluation scores: `ngram_logreg`, the baseline the issue
/// named (logistic, words and characters alike), and `ngram_svm`, the SVMs with `ngram`'s word weight;
/// both with `ngram`'s C and minimum document frequency.
fn ngram_pair(
    ngram: diagnose::ngram::NgramOptions,
) -> (diagnose::ngram::NgramOptions, diagnose::ngram::NgramOptions) {
    use diagnose::ngram::{NgramLoss, NgramOptions};
    let logistic = NgramOptions {
        loss: NgramLoss::Logistic,
        word_weight: 1.0,
        ..ngram
    };
    let hinge = NgramOptions {
        loss: NgramLoss::SquaredHinge,
        ..ngram
    };
    (logistic, hinge)
}

/// The classifier in `dir`, whichever kind it is.
fn load_model(dir: &Path, base: Option<&Path>) -> anyhow::Result<FaultModel> {
    FaultModel::load(dir, base, 100_000)
        .with_context(|| format!("loading the classifier in {}", dir.display()))
}

/// Predictions for samples, in batches of 32.
fn predict(
    classifier: &mut FaultModel,
    samples: &[Sample],
) -> anyhow::Result<Vec<diagnose::transformer::Prediction>> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(32) {
        let condensed: Vec<_> = chunk
            .iter()
            .map(|s| classifier.condense(&s.lines))
            .collect();
        out.extend(classifier.predict(&condensed)?);
    }
    Ok(out)
}

/// One line of `medic classify` output.
#[derive(Debug, Serialize)]
struct Classified<'a> {
    id: &'a str,
    fault: FaultClass,
    severity: schemas::FaultSeverity,
    confidence: f64,
}

/// Classifies every sample of `input` (`{"id","lines"}` per line) into `output`, same order. The parts
/// of one workload (a YARN application's containers) are classified as one and share its verdict.
///
/// # Errors
/// Unreadable input or model, unwritable output.
pub fn classify(
    model_dir: &Path,
    base: Option<&Path>,
    input: &Path,
    output: &Path,
) -> anyhow::Result<usize> {
    let samples = read_jsonl(input, false)?;
    let pooled = Pooled::of(&samples);
    let mut classifier = load_model(model_dir, base)?;
    let predictions = pooled
        .spread(&predict(&mut classifier, &pooled.samples)?)
        .map_err(anyhow::Error::msg)?;
    let mut text = String::new();
    for (sample, p) in samples.iter().zip(&predictions) {
        text.push_str(&serde_json::to_string(&Classified {
            id: &sample.id,
            fault: p.fault,
            severity: diagnose::severity_of(p.fault),
            confidence: p.confidence,
        })?);
        text.push('\n');
    }
    std::fs::write(output, text).with_context(|| format!("writing {}", output.display()))?;
    Ok(samples.len())
}

/// Where the pretrained base encoder comes from: `--base-model DIR`, else found as the README says;
/// with `--download`, fetched from the Hugging Face hub into its cache when it is not found.
#[derive(Debug, Clone, clap::Args)]
pub struct BaseModelArgs {
    /// Directory of the pretrained base encoder (default: resolved, see README).
    #[arg(long, env = "MEDIC_BASE_MODEL")]
    pub base_model: Option<PathBuf>,
    /// Download the base encoder from the Hugging Face hub into its cache when it is not found
    /// (never done otherwise; refused when HF_HUB_OFFLINE is set).
    #[arg(long, conflicts_with = "base_model")]
    pub download: bool,
}

impl BaseModelArgs {
    /// The directory to use: `--base-model`, the downloaded model with `--download`, else `None` (found
    /// where the README says when loaded).
    ///
    /// # Errors
    /// With `--download`: when the model is not found and cannot be downloaded.
    pub fn dir(&self) -> anyhow::Result<Option<PathBuf>> {
        if self.download {
            return Ok(Some(diagnose::transformer::download_base_model()?.dir));
        }
        Ok(self.base_model.clone())
    }
}

/// The flags of `medic classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Classifier directory, either kind (default: the pipeline's, `models/ngram`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where the pretrained base encoder comes from (transformer only).
    #[command(flatten)]
    pub base: BaseModelArgs,
    /// Samples to classify (JSONL, `{"id","lines":[…]}` per line).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the predictions (JSONL).
    #[arg(long)]
    pub output: PathBuf,
}

/// `medic classify`.
///
/// # Errors
/// As [`classify`].
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let model = args.model.clone().unwrap_or_else(default_model_dir);
    let n = classify(
        &model,
        args.base.dir()?.as_deref(),
        &args.input,
        &args.output,
    )?;
    eprintln!("classified {n} samples into {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// The flags of `medic train classifier`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// A `.jsonl` file or a directory of them (`{"id","lines":[…],"label"}` per line); repeatable.
    #[arg(long, default_value = "../shared/data/classify")]
    pub data: Vec<PathBuf>,
    /// Which classifier.
    #[arg(long, value_enum, default_value_t = ClassifierKind::Transformer)]
    pub kind: ClassifierKind,
    /// Output directory (default: `models/classifier` for the transformer, `models/ngram` for n-grams).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// n-grams: the card records a grouped K-fold cross-validation (0: none).
    #[arg(long, default_value_t = 5)]
    pub cv: usize,
    /// How the n-gram model is fitted.
    #[command(flatten)]
    pub ngram: NgramArgs,
    /// Where the pretrained base encoder comes from.
    #[command(flatten)]
    pub base: BaseModelArgs,
    /// Seed of the split, initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
    /// Encoder layers to fine-tune (of 6).
    #[arg(long, default_value_t = 1)]
    pub upper_layers: usize,
    /// Epochs at most (early stopping on dev macro-F1).
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Epochs that tune the encoder layers (later ones train the head alone).
    #[arg(long, default_value_t = 4)]
    pub encoder_epochs: usize,
    /// Also write the dev split (JSONL) here, e.g. for `medic eval classifier --data` (the transformer
    /// was selected and calibrated on it, so its scores there are optimistic).
    #[arg(long)]
    pub dev_out: Option<PathBuf>,
}

/// `medic train classifier`.
///
/// # Errors
/// As [`train_classifier`].
pub fn train_command(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    if args.kind == ClassifierKind::Ngram {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| Path::new("models").join(diagnose::NGRAM_DIR));
        train_ngram(&args.data, &out, args.ngram.options(), args.cv, args.seed)?;
        return Ok(ExitCode::SUCCESS);
    }
    let options = TrainOptions {
        seed: args.seed,
        upper_layers: args.upper_layers,
        epochs: args.epochs,
        encoder_epochs: args.encoder_epochs,
        ..Default::default()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("models").join("classifier"));
    train_classifier(
        &args.data,
        &out,
        args.base.dir()?.as_deref(),
        &options,
        args.dev_out.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The flags of `medic eval classifier`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled evaluation JSONL (held out from training); not with `--cv`.
    #[arg(long, required_unless_present = "cv", conflicts_with = "cv")]
    pub data: Option<PathBuf>,
    /// Grouped K-fold cross-validation on the training data instead: every model trained on K−1 folds and
    /// scored on the held-out one (no source thread or application in two folds); mean ± sd macro-F1
    /// per model, Kubernetes and Hadoop apart.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(2..))]
    pub cv: Option<u16>,
    /// The models cross-validated (with `--cv`). `transformer` fine-tunes in each fold (about 20 min per
    /// fold on 2 cores), choosing its epoch and temperature on a dev split of the training folds.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "keyword_rules,tfidf_logreg,ngram_logreg,ngram_svm"
    )]
    pub models: Vec<CvModel>,
    /// How `ngram_logreg` and `ngram_svm` are fitted (with `--cv` or `--data`); each keeps the loss its
    /// name says, so `--ngram-loss` does not apply here.
    #[command(flatten)]
    pub ngram: NgramArgs,
    /// Classifier directory scored as `shipped`, either kind (default: the pipeline's, `models/ngram`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where the baselines are trained (the same training split as the transformer's); repeatable.
    #[arg(long, default_value = "../shared/data/classify")]
    pub train_data: Vec<PathBuf>,
    /// Where the pretrained base encoder comes from.
    #[command(flatten)]
    pub base: BaseModelArgs,
    /// Seed of the train/dev split (as in training).
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
}

/// `medic eval classifier`: the report as JSON.
///
/// # Errors
/// As [`eval_classifier`] or [`cross_validate_classifiers`].
pub fn eval_command(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let Some(data) = &args.data else {
        let folds = usize::from(args.cv.unwrap_or(5));
        let base = args.base.dir()?;
        let ngram = args.ngram.options();
        let report = cross_validate_classifiers(
            &args.train_data,
            folds,
            args.seed,
            &args.models,
            ngram,
            base.as_deref(),
        )?;
        return super::print_json(&report);
    };
    let model = args.model.clone().unwrap_or_else(default_model_dir);
    let report = eval_classifier(
        data,
        &model,
        &args.train_data,
        args.base.dir()?.as_deref(),
        args.seed,
        args.ngram.options(),
    )?;
    super::print_json(&report)
}

/// A model `medic eval classifier --cv` can train and score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum CvModel {
    /// The keyword rules (nothing to train).
    KeywordRules,
    /// Word 1–2-gram TF-IDF + logistic regression.
    TfidfLogreg,
    /// Word 1–2-gram + character 3–5-gram TF-IDF + logistic regression (C = 10, balanced): the baseline
    /// the shipped model has to beat.
    NgramLogreg,
    /// The same features under one-vs-rest linear SVMs (squared hinge, balanced).
    NgramSvm,
    /// Frozen sentence embeddings + logistic regression.
    FrozenEmbeddingLogreg,
    /// The transformer, fine-tuned in each fold.
    Transformer,
}

impl CvModel {
    fn name(self) -> &'static str {
        match self {
            Self::KeywordRules => "keyword_rules",
            Self::TfidfLogreg => "tfidf_logreg",
            Self::NgramLogreg => "ngram_logreg",
            Self::NgramSvm => "ngram_svm",
            Self::FrozenEmbeddingLogreg => "frozen_embedding_logreg",
            Self::Transformer => "transformer",
        }
    }
}

/// Fine-tunes the transformer on `train` (its epoch and temperature chosen on a dev split of `train`
/// alone) and predicts `test`.
fn transformer_predict(
    base: &diagnose::transformer::BaseModelFiles,
    train_samples: &[Sample],
    test: &[Sample],
    seed: u64,
) -> anyhow::Result<Vec<FaultClass>> {
    let (fit, dev) = split_dev(train_samples, DEV_SHARE, seed);
    let options = TrainOptions {
        seed,
        ..TrainOptions::default()
    };
    let (trained, _) = train(base, &fit, &dev, &options, &mut |p| render(&p))?;
    let dir = std::env::temp_dir().join(format!("medic-cv-transformer-{}", std::process::id()));
    trained.save(&dir)?;
    let mut classifier = load_model(&dir, Some(&base.dir))?;
    let predicted = predict(&mut classifier, test)?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(predicted.into_iter().map(|p| p.fault).collect())
}

/// Grouped K-fold cross-validation of `models` on the corpus at `data`.
///
/// # Errors
/// Unreadable data, a missing base model (for the models that need it), or a model that fails.
pub fn cross_validate_classifiers(
    data: &[PathBuf],
    folds: usize,
    seed: u64,
    models: &[CvModel],
    ngram: diagnose::ngram::NgramOptions,
    base: Option<&Path>,
) -> anyhow::Result<diagnose::lab::cv::CvReport> {
    use diagnose::lab::cv::{Predictor, cross_validate};
    let samples = read_all(data)?;
    let needs_encoder = models
        .iter()
        .any(|m| matches!(m, CvModel::FrozenEmbeddingLogreg | CvModel::Transformer));
    let base_files = needs_encoder
        .then(|| resolve_base_model(base))
        .transpose()?;
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let keyword: &Predictor<'_> = &|_, test| Ok(keyword_predict(test));
    let tfidf: &Predictor<'_> = &|train, test| tfidf_predict(train, test).map_err(|e| text(&e));
    let (logistic, hinge) = ngram_pair(ngram);
    let ngram: &Predictor<'_> = &|train, test| Ok(ngram_predict(train, test, logistic));
    let svm: &Predictor<'_> = &|train, test| Ok(ngram_predict(train, test, hinge));
    let frozen: &Predictor<'_> = &|train, test| {
        let base = base_files.as_ref().ok_or("no base model")?;
        let options = TrainOptions::default();
        frozen_embedding_predict(base, train, test, options.max_tokens, options.max_distinct)
            .map_err(|e| text(&e))
    };
    let transformer: &Predictor<'_> = &|train, test| {
        let base = base_files.as_ref().ok_or("no base model")?;
        transformer_predict(base, train, test, seed).map_err(|e| format!("{e:#}"))
    };
    let chosen: Vec<(&str, &Predictor<'_>)> = models
        .iter()
        .map(|m| {
            let predictor = match m {
                CvModel::KeywordRules => keyword,
                CvModel::TfidfLogreg => tfidf,
                CvModel::NgramLogreg => ngram,
                CvModel::NgramSvm => svm,
                CvModel::FrozenEmbeddingLogreg => frozen,
                CvModel::Transformer => transformer,
            };
            (m.name(), predictor)
        })
        .collect();
    eprintln!(
        "{folds}-fold grouped cross-validation of {} samples from {}",
        samples.len(),
        data.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    cross_validate(
        &samples,
        folds,
        seed,
        &chosen,
        &mut |fold, model, seconds| {
            eprintln!("fold {fold}/{folds} {model:<24} trained and scored in {seconds:.1} s");
        },
    )
    .map_err(anyhow::Error::msg)
}

/// How the n-gram model is fitted.
#[derive(Debug, Clone, clap::Args)]
pub struct NgramArgs {
    /// The n-gram model's inverse regularisation strength.
    #[arg(long, default_value_t = diagnose::ngram::NgramOptions::default().c)]
    pub ngram_c: f64,
    /// The n-gram model's minimum document frequency of a term.
    #[arg(long, default_value_t = diagnose::ngram::NgramOptions::default().min_df)]
    pub ngram_min_df: usize,
    /// The loss of the n-gram model `medic train classifier --kind ngram` fits: `squared_hinge`
    /// (one-vs-rest linear SVMs, chosen by grouped CV) or `logistic`.
    #[arg(long, default_value_t = diagnose::ngram::NgramOptions::default().loss)]
    pub ngram_loss: diagnose::ngram::NgramLoss,
    /// The length of the word block in a row of the n-gram model, a finite number ≥ 0 (the character
    /// block's is 1). Applies to `ngram_svm` and to what `train classifier --kind ngram` fits, never to
    /// the `ngram_logreg` baseline (always 1).
    #[arg(long, default_value_t = diagnose::ngram::NgramOptions::default().word_weight,
          value_parser = non_negative_weight)]
    pub ngram_word_weight: f32,
}

impl NgramArgs {
    /// The fit options these flags give.
    #[must_use]
    pub fn options(&self) -> diagnose::ngram::NgramOptions {
        diagnose::ngram::NgramOptions {
            min_df: self.ngram_min_df,
            c: self.ngram_c,
            loss: self.ngram_loss,
            word_weight: self.ngram_word_weight,
        }
    }
}

/// Fits the n-gram classifier on every sample of `data`, writes it to `out` with a card that records a
/// grouped `cv`-fold cross-validation of it and the simpler models on the same data.
///
/// # Errors
/// Unreadable data, failed cross-validation, unwritable output.
pub fn train_ngram(
    data: &[PathBuf],
    out: &Path,
    options: diagnose::ngram::NgramOptions,
    cv: usize,
    seed: u64,
) -> anyhow::Result<()> {
    use diagnose::ngram::NgramClassifier;
    let samples = read_all(data)?;
    let report = (cv >= 2)
        .then(|| {
            let models = [
                CvModel::KeywordRules,
                CvModel::TfidfLogreg,
                CvModel::NgramLogreg,
                CvModel::NgramSvm,
            ];
            cross_validate_classifiers(data, cv, seed, &models, options, None)
        })
        .transpose()?;
    let labelled: Vec<(&[String], FaultClass)> = samples
        .iter()
        .filter_map(|s| Some((s.lines.as_slice(), s.label?)))
        .collect();
    // Calibrated on the same folds: scores of models that never saw the sample.
    let calibration = (cv >= 2).then(|| {
        use diagnose::lab::calibration::{calibrate, out_of_fold_ngram};
        let folds = diagnose::lab::cv::grouped_folds(&samples, cv, seed);
        calibrate(&out_of_fold_ngram(&samples, &folds, options))
    });
    let (model, fit) = NgramClassifier::fit(&labelled, options);
    let mut model = model.with_temperature(calibration.map_or(1.0, |c| c.temperature));
    let spec = model.save(out)?;
    let command = format!(
        "medic train classifier --kind ngram {} --out {} --cv {cv} --seed {seed} --ngram-c {} --ngram-min-df {} --ngram-loss {} --ngram-word-weight {}",
        data_flags(data),
        out.display(),
        options.c,
        options.min_df,
        options.loss,
        options.word_weight,
    );
    diagnose::lab::ngram_card::NgramCard::new(
        spec,
        &data_files(data)?,
        samples.len(),
        fit,
        report,
        calibration,
        command,
    )?
    .write(out)?;
    eprintln!(
        "fitted {} ({}) on {} samples ({} iterations, converged: {}); wrote {}",
        model.model_id(),
        options.loss,
        samples.len(),
        fit.iterations,
        fit.converged,
        out.display()
    );
    Ok(())
}

/// Which classifier `medic train classifier` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifierKind {
    /// The transformer, fine-tuned (default output `models/classifier`).
    Transformer,
    /// The word + character n-gram linear model (default output `models/ngram`).
    Ngram,
}
/// `--data <path>` for each training file, as the command that reproduces a model names them.
fn data_flags(data: &[PathBuf]) -> String {
    data.iter()
        .map(|d| format!("--data {}", d.display()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_weight_is_a_finite_number_at_least_zero() {
        assert_eq!(non_negative_weight("0.3"), Ok(0.3));
        assert_eq!(non_negative_weight("0"), Ok(0.0));
        for bad in ["-1", "NaN", "inf", "heavy"] {
            assert!(non_negative_weight(bad).is_err(), "{bad}");
        }
    }
}
