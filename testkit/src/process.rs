//! `medic` child processes, as Kubernetes runs them: `medic run --pipeline P --stage S…` with its log in a
//! file, waited for until `/readyz` answers, stopped with SIGTERM (drain, commit, exit) or killed when
//! dropped, and measured from `/proc` (CPU seconds, resident memory). Used by the end-to-end tests and
//! by `medic bench e2e`.

use crate::http::http_get;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `medic` binary: `medic` in the Cargo target directory of the running executable (a test binary
/// lives in `target/<profile>/deps/`, the `medic` binary in `target/<profile>/`), else the running
/// executable itself (the bench is `medic`).
#[must_use]
pub fn medic_bin() -> PathBuf {
    let current = std::env::current_exe().expect("the running executable's path");
    let in_target = current
        .parent()
        .filter(|dir| dir.file_name() == Some(OsStr::new("deps")))
        .and_then(Path::parent)
        .map(|dir| dir.join("medic"));
    match in_target {
        Some(bin) if bin.exists() => bin,
        _ => current,
    }
}

/// The log filter of a `medic run` child unless told otherwise.
const DEFAULT_LOG: &str = "info,rdkafka=warn";

/// How to start one `medic run`.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// The stages to run (`--stage`, repeated); none runs every stage.
    pub stages: Vec<String>,
    /// Where its stderr (its own log) goes; appended to.
    pub log: PathBuf,
    /// Extra environment (e.g. `MEDIC__<SECTION>__<KEY>` overrides).
    pub env: Vec<(String, String)>,
    /// Drop every `MEDIC__*` variable of this process's environment (their overrides were already
    /// applied to the pipeline file).
    pub clear_overrides: bool,
    /// A wrapper command and its arguments to run `medic` under (e.g. `valgrind --tool=callgrind`).
    pub wrapper: Vec<String>,
    /// Its log filter (`MEDIC_LOG`); `None` keeps this process's `MEDIC_LOG`, or `info,rdkafka=warn`.
    pub log_filter: Option<String>,
    /// Further flags of `medic run` (e.g. `--pass-through`).
    pub run_flags: Vec<String>,
}

impl Launch {
    /// `medic run --pipeline <pipeline> [--stage <stage>]…` with its log in `log`, at `info,rdkafka=warn`
    /// whatever this process's `MEDIC_LOG` says (tests read its info lines).
    #[must_use]
    pub fn new(pipeline: &Path, stages: &[&str], log: &Path) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            log: log.to_owned(),
            log_filter: Some(DEFAULT_LOG.to_owned()),
            ..Self::default()
        }
    }

    /// Adds environment variables.
    #[must_use]
    pub fn envs(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// Starts the process.
    ///
    /// # Errors
    /// When the log file cannot be opened or the process cannot start.
    pub fn start(&self) -> std::io::Result<Medic> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(medic_bin());
                command
            }
            None => Command::new(medic_bin()),
        };
        command.args(["run", "--pipeline"]).arg(&self.pipeline);
        for stage in &self.stages {
            command.args(["--stage", stage]);
        }
        command.args(&self.run_flags);
        if self.clear_overrides {
            for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("MEDIC__")) {
                command.env_remove(name);
            }
        }
        match &self.log_filter {
            Some(filter) => {
                command.env("MEDIC_LOG", filter);
            }
            None if std::env::var_os("MEDIC_LOG").is_none() => {
                command.env("MEDIC_LOG", DEFAULT_LOG);
            }
            None => {}
        }
        let child = command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Medic {
            child,
            log: self.log.clone(),
            stopping: false,
        })
    }
}

/// A running `medic`; killed when dropped, so a failing test or bench leaves no process behind.
pub struct Medic {
    /// The process.
    pub child: Child,
    log: PathBuf,
    stopping: bool,
}

impl Medic {
    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its log.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 4000 bytes of its log, for error messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }

    /// Whether it is still running.
    #[must_use]
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until its admin server at 127.0.0.1:`admin_port` answers `/readyz` with 200 (every stage
    /// has subscribed).
    ///
    /// # Errors
    /// When it exits or is not ready by `deadline`, with the end of its log.
    pub fn wait_ready(&mut self, admin_port: u16, deadline: Instant) -> Result<(), String> {
        while http_get(admin_port, "/readyz").map(|(status, _)| status) != Some(200) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "medic exited early ({status}); its log ({}) ends:\n{}",
                    self.log.display(),
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "medic never became ready; its log ({}) ends:\n{}",
                    self.log.display(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Sends SIGTERM once: it stops fetching, drains, commits and exits.
    pub fn stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits up to `limit` for it to exit; its exit status, or `None` when it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Err(_) => return None,
                Ok(None) if Instant::now() >= deadline => return None,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Medic {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `medic run --pipeline <pipeline> [--stage <stage>]…` with its log in `log`.
///
/// # Panics
/// When the binary cannot start.
#[must_use]
pub fn spawn_medic(pipeline: &Path, stages: &[&str], log: &Path) -> Medic {
    spawn_medic_with(pipeline, stages, log, &[])
}

/// [`spawn_medic`] with extra environment variables (e.g. `MEDIC__<SECTION>__<KEY>` overrides).
///
/// # Panics
/// When the binary cannot start.
#[must_use]
pub fn spawn_medic_with(
    pipeline: &Path,
    stages: &[&str],
    log: &Path,
    env: &[(&str, &str)],
) -> Medic {
    Launch::new(pipeline, stages, log)
        .envs(env)
        .start()
        .expect("medic run starts")
}

/// Waits until medic's admin port answers `/readyz` with 200.
///
/// # Panics
/// When medic exits or is not ready within a minute; the panic carries its log.
pub fn wait_ready(medic: &mut Medic, admin_port: u16) {
    if let Err(error) = medic.wait_ready(admin_port, Instant::now() + Duration::from_secs(60)) {
        panic!("{error}");
    }
}

/// Sends SIGTERM to `medic` and waits up to `limit` for it to exit; its exit status.
///
/// # Panics
/// When it does not exit in time.
pub fn terminate(medic: &mut Medic, limit: Duration) -> ExitStatus {
    medic.stop();
    medic.wait_exit(limit).unwrap_or_else(|| {
        panic!(
            "medic did not stop after SIGTERM; its log ends:\n{}",
            medic.log_tail()
        )
    })
}

/// Resident memory of process `pid` from `/proc/<pid>/status`: (`VmRSS`, `VmHWM`) in KiB — now and the
/// peak since it started.
#[must_use]
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    memory_kib_in(&format!("/proc/{pid}/status"))
}

/// [`memory_kib`] from a `status` file.
#[must_use]
pub fn memory_kib_in(status_file: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            line.strip_prefix(name)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Peak resident set (`VmHWM`) of process `pid`, MB; `None` without `/proc`.
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "KiB of a process fit an f64")]
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    memory_kib(pid).map(|(_, peak)| peak as f64 / 1024.0)
}

/// User + system CPU seconds of a process from its `/proc/<pid>/stat` (clock ticks of 1/100 s, the
/// Linux `USER_HZ`).
#[must_use]
pub fn cpu_seconds(stat_file: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    // Fields after the command name (which may hold spaces), starting at field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_come_from_proc_stat() {
        let dir = std::env::temp_dir().join(format!("medic-testkit-stat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("stat");
        std::fs::write(
            &file,
            "42 (medic run) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0",
        )
        .expect("write");
        assert_eq!(cpu_seconds(&file.display().to_string()), Some(3.0));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(cpu_seconds("/proc/self/stat").is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn memory_is_read_from_proc_status() {
        let (rss, peak) = memory_kib(std::process::id()).expect("/proc/self/status");
        assert!(rss > 0 && peak >= rss, "{rss} {peak}");
    }
}
