//! [`Trace`]: a workload time series read from CSV and scaled to a peak request rate.
//!
//! Two layouts are read: *long* files with one row per sample (`--column` names the value column; a
//! `timestamp`, `time`, `minute` or `second` column, when present, gives the sampling interval), and *wide*
//! files with one row per series and one column per minute (the Azure Functions trace: `--column row:N`
//! takes the N-th data row, 1-based, and its numeric-headed columns).

use std::path::Path;

/// A request-rate series, sampled every `step_secs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Where it came from (file and column), for reports.
    pub source: String,
    /// Seconds between samples.
    pub step_secs: f64,
    /// Requests per second at each sample.
    pub rps: Vec<f64>,
}

impl Trace {
    /// Reads `column` of the CSV at `path` (see the module docs for the layouts).
    ///
    /// # Errors
    /// Unreadable files, unknown columns, rows that do not parse as numbers, empty series.
    pub fn load(path: &Path, column: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read trace {}: {e}", path.display()))?;
        let source = format!("{}#{column}", path.display());
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| format!("trace {} is empty", path.display()))?
            .split(',')
            .map(str::trim)
            .collect();
        let (step_secs, values) = if let Some(row) = column.strip_prefix("row:") {
            let row: usize = row
                .parse()
                .ok()
                .filter(|r| *r >= 1)
                .ok_or_else(|| format!("{column:?}: row:N needs N >= 1"))?;
            let line = lines
                .nth(row - 1)
                .ok_or_else(|| format!("trace {} has fewer than {row} rows", path.display()))?;
            let cells: Vec<&str> = line.split(',').collect();
            let values = header
                .iter()
                .zip(&cells)
                .filter(|(name, _)| name.parse::<u32>().is_ok())
                .map(|(name, cell)| parse_cell(cell.trim(), name, path))
                .collect::<Result<Vec<_>, _>>()?;
            (60.0, values)
        } else {
            let index = header.iter().position(|h| *h == column).ok_or_else(|| {
                format!(
                    "trace {} has no column {column:?}; its columns are {}",
                    path.display(),
                    header.join(", ")
                )
            })?;
            let time = header
                .iter()
                .position(|h| matches!(*h, "timestamp" | "time" | "minute" | "second"));
            let mut values = Vec::new();
            let mut times = Vec::new();
            for (n, line) in lines.enumerate() {
                let cells: Vec<&str> = line.split(',').collect();
                let cell = cells.get(index).ok_or_else(|| {
                    format!("trace {} row {}: too few columns", path.display(), n + 2)
                })?;
                values.push(parse_cell(cell.trim(), column, path)?);
                if let Some(t) = time.and_then(|t| cells.get(t)) {
                    times.push(parse_cell(t.trim(), header[time.unwrap_or(0)], path)?);
                }
            }
            let unit = match time.map(|t| header[t]) {
                Some("minute") => 60.0,
                _ => 1.0,
            };
            let step = if times.len() >= 2 && times[1] > times[0] {
                (times[1] - times[0]) * unit
            } else {
                60.0
            };
            (step, values)
        };
        if values.is_empty() {
            return Err(format!("trace {source} has no samples"));
        }
        Ok(Self {
            source,
            step_secs,
            rps: values,
        })
    }

    /// A synthetic diurnal trace (for tests and the built-in demo): `days` days of per-minute samples.
    #[must_use]
    pub fn diurnal(days: usize) -> Self {
        let rps = (0..days * 1440)
            .map(|m| {
                let phase = (m % 1440) as f64 / 1440.0 * std::f64::consts::TAU;
                1.0 + 0.8
                    * (phase - std::f64::consts::FRAC_PI_2)
                        .sin()
                        .mul_add(0.5, 0.5)
            })
            .collect();
        Self {
            source: format!("diurnal:{days}d"),
            step_secs: 60.0,
            rps,
        }
    }

    /// The same series scaled so its maximum equals `peak_rps`.
    #[must_use]
    pub fn scaled_to_peak(mut self, peak_rps: f64) -> Self {
        let max = self.rps.iter().copied().fold(0.0_f64, f64::max);
        if max > 0.0 {
            for v in &mut self.rps {
                *v = *v / max * peak_rps;
            }
        }
        self
    }

    /// The samples from `start` (a fraction of the length) to `end`, e.g. `0.0..0.7` for training.
    #[must_use]
    pub fn part(&self, start: f64, end: f64) -> Self {
        let n = self.rps.len();
        let a = ((start.clamp(0.0, 1.0) * n as f64) as usize).min(n.saturating_sub(1));
        let b = ((end.clamp(0.0, 1.0) * n as f64) as usize).clamp(a + 1, n);
        Self {
            source: format!("{}[{start:.2}..{end:.2}]", self.source),
            step_secs: self.step_secs,
            rps: self.rps[a..b].to_vec(),
        }
    }

    /// `secs` seconds of the series starting at `start_secs` (whole samples).
    #[must_use]
    pub fn window(&self, start_secs: f64, secs: f64) -> Self {
        let n = self.rps.len();
        let a = ((start_secs / self.step_secs) as usize).min(n.saturating_sub(1));
        let len = ((secs / self.step_secs).ceil() as usize + 1).max(2);
        Self {
            source: format!("{}@{start_secs:.0}s", self.source),
            step_secs: self.step_secs,
            rps: (a..a + len).map(|i| self.rps[i % n]).collect(),
        }
    }

    /// Simulated seconds the trace covers.
    #[must_use]
    pub fn duration_secs(&self) -> f64 {
        self.rps.len() as f64 * self.step_secs
    }

    /// The request rate at `t` seconds, linearly interpolated; the series repeats past its end.
    #[must_use]
    pub fn rps_at(&self, t: f64) -> f64 {
        let n = self.rps.len();
        let x = (t / self.step_secs).max(0.0);
        let i = x.floor() as usize;
        let frac = x - x.floor();
        let a = self.rps[i % n];
        let b = self.rps[(i + 1) % n];
        a + (b - a) * frac
    }
}

fn parse_cell(cell: &str, column: &str, path: &Path) -> Result<f64, String> {
    cell.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            format!(
                "trace {}: {cell:?} in column {column:?} is not a non-negative number",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("medic-trace-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn reads_long_and_wide_layouts() {
        let long = write(
            "long.csv",
            "timestamp,cpu,mem\n0,10,1\n300,20,2\n600,40,3\n",
        );
        let trace = Trace::load(&long, "cpu")
            .expect("loads")
            .scaled_to_peak(100.0);
        assert_eq!(trace.step_secs, 300.0);
        assert_eq!(trace.rps, [25.0, 50.0, 100.0]);
        assert!((trace.rps_at(150.0) - 37.5).abs() < 1e-9);
        let err = Trace::load(&long, "disk").expect_err("no such column");
        assert!(err.contains("cpu, mem"), "{err}");
        let wide = write(
            "wide.csv",
            "Hash,Trigger,1,2,3\na,http,1,2,3\nb,timer,5,5,x\n",
        );
        let trace = Trace::load(&wide, "row:1").expect("loads");
        assert_eq!(
            (trace.step_secs, trace.rps.clone()),
            (60.0, vec![1.0, 2.0, 3.0])
        );
        assert!(
            Trace::load(&wide, "row:2")
                .expect_err("bad cell")
                .contains("\"x\"")
        );
        let minutes = write("minutes.csv", "minute,requests\n0,4\n1,8\n");
        assert_eq!(
            Trace::load(&minutes, "requests").expect("loads").step_secs,
            60.0
        );
    }

    #[test]
    fn parts_split_without_overlap() {
        let trace = Trace::diurnal(1);
        let (train, test) = (trace.part(0.0, 0.7), trace.part(0.7, 1.0));
        assert_eq!(train.rps.len() + test.rps.len(), trace.rps.len());
    }
}
