//! The stage processes: one `medic run --stage X` child per stage ([`testkit::process`]), each with its
//! own admin port and log file, and what each used (CPU seconds, peak RSS) at the end of the run.

use super::*;
use testkit::process::{Launch, Medic, cpu_seconds, peak_rss_mb};

/// One stage's process and where its admin server listens.
pub(super) struct StageProcess {
    pub(super) stage: StageName,
    pub(super) admin_port: u16,
    medic: Medic,
}

/// How the stage processes are started.
pub(super) struct Stages<'a> {
    /// The generated pipeline file.
    pub(super) pipeline: &'a Path,
    /// Where their logs go.
    pub(super) dir: &'a Path,
    /// The command keys they share (act signs, the actuator verifies).
    pub(super) keys: &'a str,
    /// On an external broker, this run's prefix of the consumer groups (`<prefix>medic-<stage>`), so
    /// that the run does not join another medic's groups there.
    pub(super) group_prefix: Option<&'a str>,
    /// A stage to run under a wrapper command (`--wrap`).
    pub(super) wrap: Option<(StageName, Vec<String>)>,
    /// Run the stages' pass-through instead ([`crate::pass_through`]).
    pub(super) pass_through: bool,
}

/// mimalloc's switch for transparent huge pages (read once, when the process starts).
const MIMALLOC_ALLOW_THP: &str = "MIMALLOC_ALLOW_THP";

impl Stages<'_> {
    /// Starts `stage` with its admin server on a free port. `MEDIC__*` overrides were applied to the
    /// pipeline file already and are not passed on.
    pub(super) fn spawn(&self, stage: StageName) -> anyhow::Result<StageProcess> {
        let admin_port = testkit::scratch::free_port();
        let mut launch = Launch::new(
            self.pipeline,
            &[stage.as_str()],
            &self.dir.join(format!("{stage}.log")),
        );
        launch.clear_overrides = true;
        if self.pass_through {
            launch.run_flags.push("--pass-through".to_owned());
            launch
                .env
                .push((crate::cmd::run::PASS_THROUGH_ENV.to_owned(), "1".to_owned()));
        }
        // The operator's MEDIC_LOG, if any, reaches the stages.
        launch.log_filter = None;
        if let Some((wrapped, words)) = &self.wrap
            && *wrapped == stage
        {
            launch.wrapper.clone_from(words);
        }
        if let Some(prefix) = self.group_prefix {
            // Groups `<prefix>medic-<stage>` (kafka.group_prefix).
            launch.env.push((
                "MEDIC__KAFKA__GROUP_PREFIX".to_owned(),
                format!("{prefix}medic"),
            ));
        }
        // The stages run as the container image runs them: transparent huge pages off for mimalloc
        // (`MIMALLOC_ALLOW_THP=0`, the Dockerfile's default), unless the bench's environment says.
        let thp = std::env::var(MIMALLOC_ALLOW_THP).unwrap_or_else(|_| "0".to_owned());
        launch.env.extend([
            (MIMALLOC_ALLOW_THP.to_owned(), thp),
            (
                "MEDIC__ADMIN__LISTEN".to_owned(),
                format!("127.0.0.1:{admin_port}"),
            ),
            (act::signing::KEYS_ENV.to_owned(), self.keys.to_owned()),
        ]);
        let medic = launch
            .start()
            .with_context(|| format!("starting the {stage} stage"))?;
        Ok(StageProcess {
            stage,
            admin_port,
            medic,
        })
    }
}

impl StageProcess {
    /// An error when the process has exited.
    pub(super) fn check_alive(&mut self) -> anyhow::Result<()> {
        if !self.medic.is_running() {
            bail!(
                "the {} stage exited; its log ends:\n{}",
                self.stage,
                self.medic.log_tail()
            );
        }
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (the stage has subscribed).
    pub(super) fn wait_ready(&mut self, deadline: Instant) -> anyhow::Result<()> {
        self.medic
            .wait_ready(self.admin_port, deadline)
            .map_err(|e| anyhow!("the {} stage: {e}", self.stage))
    }

    /// SIGTERM: the stage stops fetching, drains, commits and exits.
    pub(super) fn terminate(&mut self) {
        self.medic.stop();
    }

    /// Waits for the process to exit after [`StageProcess::terminate`]; SIGKILL after 30 s.
    pub(super) fn wait_stopped(&mut self) {
        if self.medic.wait_exit(Duration::from_secs(30)).is_none() {
            self.medic.kill();
        }
    }
}

/// What each stage process used, read from `/proc` at the end of the run (`None` without `/proc`).
#[derive(Debug, Clone, Default)]
pub(super) struct Usage {
    /// Peak resident set (`VmHWM`), MB.
    pub(super) rss_mb: BTreeMap<String, Option<f64>>,
    /// User + system CPU seconds since the process started.
    pub(super) cpu_s: BTreeMap<String, Option<f64>>,
}

impl Usage {
    pub(super) fn of(stages: &[StageProcess]) -> Self {
        let mut usage = Self::default();
        for stage in stages {
            let (name, pid) = (stage.stage.as_str().to_owned(), stage.medic.id());
            usage.rss_mb.insert(name.clone(), peak_rss_mb(pid));
            usage
                .cpu_s
                .insert(name, cpu_seconds(&format!("/proc/{pid}/stat")));
        }
        usage
    }
}
