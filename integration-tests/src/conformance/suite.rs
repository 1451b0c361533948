//! The checks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headrace_sdk::factory::{Usage, CONNECTOR};
use headrace_sdk::options::RawOptions;
use headrace_sdk::registry::Registry;
use headrace_sdk::row::Row;
use headrace_sdk::sink::{DeliveryGuarantee, DynamicSink};

use super::data::{assert_same_rows, generate_rows, key_of, key_report, KeyReport};
use super::harness::{
    make_sink, make_source, run_to_end, runtime, start, validate, wait_until, CollectSink,
    RowsSource, RunSpec,
};
use super::process::{commit_files_keys, create_table, spawn, RunnerProcess};
use super::{ExternalContext, Failure};

/// How a check ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check ran and passed; the text says what was verified.
    Passed(String),
    /// The check does not apply to the context (the text says why).
    Skipped(String),
}

/// The result of one check.
pub type CheckResult = Result<Outcome, Failure>;

/// The results of [`Suite::run_all`].
#[derive(Debug)]
pub struct Report {
    /// The context's name.
    pub context: String,
    /// Each check's name, result and duration.
    pub results: Vec<(&'static str, CheckResult, Duration)>,
}

impl Report {
    /// The checks that failed.
    pub fn failures(&self) -> Vec<(&'static str, &Failure)> {
        self.results
            .iter()
            .filter_map(|(n, r, _)| r.as_ref().err().map(|e| (*n, e)))
            .collect()
    }

    /// The names of the checks that passed, in order.
    pub fn passed(&self) -> Vec<&'static str> {
        self.names(|o| matches!(o, Outcome::Passed(_)))
    }

    /// The names of the checks that were skipped (they do not apply to the context), in order.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.names(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn names(&self, pick: impl Fn(&Outcome) -> bool) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|(_, r, _)| r.as_ref().is_ok_and(&pick))
            .map(|(n, _, _)| *n)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}:", self.context)?;
        for (name, r, d) in &self.results {
            match r {
                Ok(Outcome::Passed(s)) => writeln!(f, "  PASS {name} ({d:.1?}): {s}")?,
                Ok(Outcome::Skipped(s)) => writeln!(f, "  SKIP {name}: {s}")?,
                Err(e) => writeln!(f, "  FAIL {name} ({d:.1?}): {e}")?,
            }
        }
        Ok(())
    }
}

/// The conformance suite: checks run against an [`ExternalContext`] with a [`Registry`] holding
/// the connector under test (and its formats).
#[derive(Debug, Clone)]
pub struct Suite {
    registry: Registry,
    runner: Option<PathBuf>,
    rows: usize,
    timeout: Duration,
}

impl Suite {
    /// A suite using `registry` for in-process jobs.
    pub fn new(registry: Registry) -> Self {
        Suite {
            registry,
            runner: None,
            rows: 60,
            timeout: Duration::from_secs(60),
        }
    }

    /// The runner binary for the crash checks (see
    /// [`runner_main`](super::runner_main)); without one they are skipped.
    pub fn with_runner(mut self, runner: impl Into<PathBuf>) -> Self {
        self.runner = Some(runner.into());
        self
    }

    /// Rows per split written by the checks (default 60).
    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows.max(5);
        self
    }

    /// How long one job may take before the check fails (default 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Every check, in order.
    pub fn run_all(&self, ctx: &dyn ExternalContext) -> Report {
        type Check = fn(&Suite, &dyn ExternalContext) -> CheckResult;
        let checks: [(&'static str, Check); 8] = [
            ("option_validation", Suite::option_validation),
            ("bounded_read", Suite::bounded_read),
            ("sink_round_trip", Suite::sink_round_trip),
            ("parallel_read", Suite::parallel_read),
            ("poison_records", Suite::poison_records),
            (
                "unbounded_stop_and_restore",
                Suite::unbounded_stop_and_restore,
            ),
            ("source_crash_recovery", Suite::source_crash_recovery),
            ("sink_crash_recovery", Suite::sink_crash_recovery),
        ];
        let results = checks
            .iter()
            .map(|(name, check)| {
                let t = Instant::now();
                let r = check(self, ctx).map_err(|e| e.context(format!("{} {name}", ctx.name())));
                (*name, r, t.elapsed())
            })
            .collect();
        Report {
            context: ctx.name(),
            results,
        }
    }

    fn read_bounded(
        &self,
        ctx: &dyn ExternalContext,
        table: &str,
        extra: Option<&RawOptions>,
        parallelism: usize,
    ) -> Result<Vec<Row>, Failure> {
        let mut opts = ctx.table_options(table, Usage::Source, true)?;
        if let Some(e) = extra {
            opts.extend(e.clone());
        }
        let source = make_source(&self.registry, table, &ctx.schema(), &opts)?;
        let sink = CollectSink::new(source.produced_schema());
        let rt = runtime()?;
        let spec = RunSpec {
            parallelism,
            batch_size: Some(16),
            ..RunSpec::default()
        };
        run_to_end(&rt, source, Arc::new(sink.clone()), &spec, self.timeout)?;
        Ok(sink.rows())
    }

    /// Bounded read: rows covering every supported type, NULLs included, written with the
    /// context's own client, read by the connector, equal what was written.
    pub fn bounded_read(&self, ctx: &dyn ExternalContext) -> CheckResult {
        if !ctx.source().is_some_and(|s| s.bounded) {
            return Ok(Outcome::Skipped("no bounded source".into()));
        }
        let table = "bounded_read";
        let rows = generate_rows(&ctx.schema(), 0, self.rows);
        ctx.write_test_data(table, 0, &rows)?;
        let got = self.read_bounded(ctx, table, None, 1)?;
        assert_same_rows("bounded read", &rows, &got)?;
        Ok(Outcome::Passed(format!(
            "{} rows of {} columns read back equal",
            rows.len(),
            ctx.schema().physical_columns().count()
        )))
    }

    /// Parallel read: four splits read by three readers; every row exactly once.
    pub fn parallel_read(&self, ctx: &dyn ExternalContext) -> CheckResult {
        if !ctx.source().is_some_and(|s| s.bounded) {
            return Ok(Outcome::Skipped("no bounded source".into()));
        }
        let table = "parallel_read";
        let schema = ctx.schema();
        let mut all = Vec::new();
        for split in 0..4 {
            let rows = generate_rows(&schema, (split * self.rows) as u64, self.rows);
            ctx.write_test_data(table, split, &rows)?;
            all.extend(rows);
        }
        let got = self.read_bounded(ctx, table, None, 3)?;
        assert_same_rows("parallel read (parallelism 3, 4 splits)", &all, &got)?;
        Ok(Outcome::Passed(format!(
            "{} rows in 4 splits read exactly once by 3 readers",
            all.len()
        )))
    }

    /// Sink round trip: rows of every supported type written by the connector's sink and read back
    /// with the context's own client equal the input.
    pub fn sink_round_trip(&self, ctx: &dyn ExternalContext) -> CheckResult {
        if ctx.sink().is_none() {
            return Ok(Outcome::Skipped("no sink".into()));
        }
        let table = "sink_round_trip";
        let schema = ctx.schema();
        let rows = generate_rows(&schema, 0, self.rows * 2);
        let opts = ctx.table_options(table, Usage::Sink, true)?;
        let sink: Arc<dyn DynamicSink> = make_sink(&self.registry, table, &schema, &opts)?;
        let source = RowsSource::new(sink.consumed_schema(), rows.clone());
        let rt = runtime()?;
        let spec = RunSpec {
            parallelism: 1,
            batch_size: Some(16),
            ..RunSpec::default()
        };
        run_to_end(&rt, Arc::new(source), sink, &spec, self.timeout)?;
        let got = ctx.read_written(table)?;
        assert_same_rows("sink round trip", &rows, &got)?;
        Ok(Outcome::Passed(format!(
            "{} rows written and read back equal",
            rows.len()
        )))
    }

    /// Poison records: a record the format cannot parse fails the job with an error naming the
    /// record's origin; with the context's ignore-parse-errors options it is skipped and every other
    /// row is read.
    pub fn poison_records(&self, ctx: &dyn ExternalContext) -> CheckResult {
        if !ctx.source().is_some_and(|s| s.bounded) {
            return Ok(Outcome::Skipped("no bounded source".into()));
        }
        let table = "poison_records";
        let rows = generate_rows(&ctx.schema(), 0, self.rows);
        ctx.write_test_data(table, 0, &rows)?;
        let Some(poison) = ctx.write_poison_record(table, 1)? else {
            return Ok(Outcome::Skipped(
                "the context writes no poison records".into(),
            ));
        };
        let more = generate_rows(&ctx.schema(), self.rows as u64, 3);
        ctx.write_test_data(table, 1, &more)?;
        match self.read_bounded(ctx, table, None, 1) {
            Ok(got) => {
                return Err(Failure::new(format!(
                    "the job read a poison record without failing ({} rows read)",
                    got.len()
                )))
            }
            Err(e) if !e.message.contains(&poison.origin) => {
                return Err(Failure::new(format!(
                    "the error for the poison record does not name its origin '{}': {}",
                    poison.origin, e.message
                )))
            }
            Err(_) => {}
        }
        let Some(ignore) = ctx.ignore_parse_errors_options() else {
            return Ok(Outcome::Passed(
                "the poison record failed the job naming its origin (no ignore option)".into(),
            ));
        };
        let got = self.read_bounded(ctx, table, Some(&ignore), 1)?;
        let expected: Vec<Row> = rows.into_iter().chain(more).collect();
        assert_same_rows("read with ignore-parse-errors", &expected, &got)?;
        Ok(Outcome::Passed(format!(
            "the poison record failed the job naming '{}'; with {:?} it was skipped and {} rows read",
            poison.origin,
            ignore.keys().collect::<Vec<_>>(),
            expected.len()
        )))
    }

    /// Option validation: the options of the context validate; a misspelt key is rejected with the
    /// nearest key suggested; each missing required key is named; a misspelt connector identifier
    /// gets a suggestion.
    pub fn option_validation(&self, ctx: &dyn ExternalContext) -> CheckResult {
        let schema = ctx.schema();
        let mut usages = Vec::new();
        if ctx.source().is_some() {
            let rows = generate_rows(&schema, 0, 3);
            ctx.write_test_data("option_validation", 0, &rows)?;
            usages.push(Usage::Source);
        }
        if ctx.sink().is_some() {
            usages.push(Usage::Sink);
        }
        let mut verified = Vec::new();
        for usage in usages {
            let what = format!("{usage:?}").to_lowercase();
            let table = "option_validation";
            let opts = ctx.table_options(table, usage, true)?;
            validate(&self.registry, table, &schema, &opts, usage)
                .map_err(|e| e.context(format!("the context's own {what} options are invalid")))?;
            let id = opts.get(CONNECTOR.key()).cloned().unwrap_or_default();
            let factory = self.registry.connector(&id)?;
            let set = factory.options_for(usage);

            // A misspelt key. Not one under a forwarded prefix (such as Kafka's
            // `properties.bootstrap.servers`): its misspelling is a forwarded key too, accepted as
            // Flink accepts it.
            let forwarded = |key: &str| set.prefixes.iter().any(|p| key.starts_with(p.prefix));
            let Some(target) = set
                .all()
                .find(|d| d.key != CONNECTOR.key() && d.key.len() >= 4 && !forwarded(d.key))
            else {
                return Err(Failure::new(format!(
                    "connector '{id}' declares no option to misspell"
                )));
            };
            let typo = format!("{}{}", target.key, target.key.chars().last().unwrap_or('x'));
            let value = opts
                .get(target.key)
                .cloned()
                .or(target.default.map(String::from))
                .unwrap_or_else(|| "1".into());
            let mut bad = opts.clone();
            bad.remove(target.key);
            bad.insert(typo.clone(), value);
            let e = match validate(&self.registry, table, &schema, &bad, usage) {
                Ok(()) => {
                    return Err(Failure::new(format!(
                        "{what} options with the unknown key '{typo}' were accepted"
                    )))
                }
                Err(e) => e.message,
            };
            let hint = format!("Did you mean '{}'?", target.key);
            if !e.contains(&format!("'{typo}'")) || !e.contains(&hint) {
                return Err(Failure::new(format!(
                    "the error for the unknown {what} key '{typo}' should name it and say \"{hint}\": {e}"
                )));
            }
            verified.push(format!("{what}: '{typo}' -> '{}'", target.key));

            // Each missing required key.
            for d in &set.required {
                let mut missing = opts.clone();
                missing.remove(d.key);
                for k in d.fallback_keys.iter().chain(d.deprecated_keys) {
                    missing.remove(*k);
                }
                match validate(&self.registry, table, &schema, &missing, usage) {
                    Ok(()) => {
                        return Err(Failure::new(format!(
                            "{what} options without the required key '{}' were accepted",
                            d.key
                        )))
                    }
                    Err(e) if !e.message.contains(&format!("'{}'", d.key)) => {
                        return Err(Failure::new(format!(
                            "the error for the missing required {what} key '{}' does not name it: {}",
                            d.key, e.message
                        )))
                    }
                    Err(_) => verified.push(format!("{what}: missing '{}' named", d.key)),
                }
            }

            // A misspelt connector.
            let mut wrong = opts.clone();
            let misspelt = format!("{id}x");
            wrong.insert(CONNECTOR.key().into(), misspelt.clone());
            match validate(&self.registry, table, &schema, &wrong, usage) {
                Err(e) if e.message.contains(&format!("Did you mean '{id}'?")) => {}
                other => {
                    return Err(Failure::new(format!(
                        "'connector' = '{misspelt}' should be rejected suggesting '{id}': {other:?}"
                    )))
                }
            }
        }
        Ok(Outcome::Passed(verified.join("; ")))
    }

    /// Unbounded read with a checkpoint, a stop and a restore: rows written before the stop, while
    /// stopped and after the restore are all read; none twice when the source claims exactly-once.
    pub fn unbounded_stop_and_restore(&self, ctx: &dyn ExternalContext) -> CheckResult {
        let Some(support) = ctx.source().filter(|s| s.unbounded) else {
            return Ok(Outcome::Skipped("no unbounded source".into()));
        };
        let exactly_once = support.guarantee == DeliveryGuarantee::ExactlyOnce;
        let table = "unbounded_stop_and_restore";
        let schema = ctx.schema();
        let n = self.rows;
        let batch = |k: usize| generate_rows(&schema, (k * n) as u64, n);
        let state = tempfile::tempdir()?;
        let spec = RunSpec {
            parallelism: 2,
            state_dir: Some(state.path().to_path_buf()),
            checkpoint_interval: Some(Duration::from_millis(200)),
            batch_size: Some(16),
        };
        let rt = runtime()?;

        ctx.write_test_data(table, 0, &batch(0))?;
        let opts = ctx.table_options(table, Usage::Source, false)?;
        let source = make_source(&self.registry, table, &schema, &opts)?;
        let sink = CollectSink::new(source.produced_schema());
        let job = start(&rt, source, Arc::new(sink.clone()), &spec);
        let first = wait_until(
            self.timeout,
            || format!("{} of {n} rows committed before the stop", sink.len()),
            || {
                if job.is_finished() {
                    return Err(Failure::new("the unbounded job ended by itself"));
                }
                Ok(sink.len() >= n)
            },
        );
        if let Err(e) = first {
            return Err(ended(job, &rt, e));
        }
        ctx.write_test_data(table, 1, &batch(1))?;
        std::thread::sleep(Duration::from_millis(150));
        let s1 = job.stop(&rt, self.timeout)?;
        let after_stop = sink.len();

        ctx.write_test_data(table, 2, &batch(2))?;
        let opts = ctx.table_options(table, Usage::Source, false)?;
        let source = make_source(&self.registry, table, &schema, &opts)?;
        let job = start(&rt, source, Arc::new(sink.clone()), &spec);
        let second = wait_until(
            self.timeout,
            || {
                format!(
                    "{} of {} rows committed after the restore",
                    sink.len(),
                    3 * n
                )
            },
            || {
                if job.is_finished() {
                    return Err(Failure::new("the restored unbounded job ended by itself"));
                }
                Ok(sink.len() >= 3 * n)
            },
        );
        if let Err(e) = second {
            return Err(ended(job, &rt, e));
        }
        std::thread::sleep(Duration::from_millis(500));
        let s2 = job.stop(&rt, self.timeout)?;
        if s2.restored_from.is_none() {
            return Err(Failure::new(
                "the second run did not restore from the first run's checkpoint",
            ));
        }
        let expected: Vec<Row> = (0..3).flat_map(batch).collect();
        let got = sink.rows();
        if exactly_once {
            assert_same_rows("rows across stop and restore", &expected, &got)?;
        } else {
            key_report(expected.iter().map(key_of), got.iter().map(key_of))
                .check("rows across stop and restore", false)?;
        }
        Ok(Outcome::Passed(format!(
            "{} rows, {after_stop} before the stop ({} checkpoints), restored from checkpoint {:?}; {}",
            got.len(),
            s1.checkpoints,
            s2.restored_from,
            guarantee_words(exactly_once)
        )))
    }

    fn runner(&self) -> Option<&Path> {
        self.runner.as_deref()
    }

    /// Crash recovery of a source: an unbounded job reading the connector into the exactly-once
    /// `commit-files` sink runs in a runner process that is killed with SIGKILL three times while
    /// the context writes data (calling [`ExternalContext::restart_external`] between runs), and
    /// is restarted from its state directory; every key arrives (exactly once when the source
    /// claims it).
    pub fn source_crash_recovery(&self, ctx: &dyn ExternalContext) -> CheckResult {
        let Some(support) = ctx.source().filter(|s| s.unbounded) else {
            return Ok(Outcome::Skipped("no unbounded source".into()));
        };
        let Some(runner) = self.runner() else {
            return Ok(Outcome::Skipped(
                "no runner binary (Suite::with_runner)".into(),
            ));
        };
        let exactly_once = support.guarantee == DeliveryGuarantee::ExactlyOnce;
        let table = "source_crash_recovery";
        let schema = ctx.schema();
        let Some(key_col) = schema.physical_columns().next().cloned() else {
            return Err(Failure::new("the context's schema has no column"));
        };
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        let per_wave = self.rows * 5;
        let wave = |w: usize| generate_rows(&schema, (w * per_wave) as u64, per_wave);
        let mut written: Vec<Row> = Vec::new();
        let mut next_wave = 0;
        let mut write_wave = |written: &mut Vec<Row>| -> Result<(), Failure> {
            let rows = wave(next_wave);
            ctx.write_test_data(table, next_wave, &rows)?;
            next_wave += 1;
            written.extend(rows);
            Ok(())
        };
        write_wave(&mut written)?;
        let src_opts = ctx.table_options(table, Usage::Source, false)?;
        let key_schema = headrace_sdk::schema::TableSchema::physical([(
            key_col.name.clone(),
            key_col.data_type.clone(),
        )]);
        let sink_opts: RawOptions = [
            ("connector".to_string(), "commit-files".to_string()),
            ("path".to_string(), out.display().to_string()),
        ]
        .into_iter()
        .collect();
        let sql = format!(
            "SET 'execution.checkpointing.interval' = '250 ms';\nSET 'parallelism.default' = '2';\n\
             SET 'headrace.batch-size' = '64';\n{}{}INSERT INTO snk SELECT `{}` FROM src;\n",
            create_table("src", &schema, &src_opts),
            create_table("snk", &key_schema, &sink_opts),
            key_col.name.replace('`', "``"),
        );
        let job = CrashJob::new(runner, dir, &sql)?;
        let kills = job.kill_rounds(ctx, [700, 1100, 500], |p, run| {
            std::thread::sleep(run / 2);
            write_wave(&mut written)?;
            std::thread::sleep(run / 2);
            match p.exited()? {
                Some(status) => Err(Failure::new(format!(
                    "the unbounded job process ended by itself ({status}): {}",
                    p.stderr()
                ))),
                None => Ok(()),
            }
        })?;
        let mut p = job.spawn_final()?;
        write_wave(&mut written)?;
        let expected: Vec<String> = written.iter().map(key_of).collect();
        let expected_set: std::collections::BTreeSet<&String> = expected.iter().collect();
        let waited = wait_until(
            self.timeout,
            || "every key committed after the restarts".to_string(),
            || {
                if let Some(status) = p.exited()? {
                    return Err(Failure::new(format!(
                        "the restarted job process ended ({status}): {}",
                        p.stderr()
                    )));
                }
                let keys = commit_files_keys(&out)?;
                let seen: std::collections::BTreeSet<&String> = keys.iter().collect();
                Ok(expected_set.iter().all(|k| seen.contains(*k)))
            },
        );
        if let Err(e) = waited {
            let report = key_report(expected.clone(), commit_files_keys(&out)?);
            let e = e.context(format!(
                "{} of {} keys lost, {} duplicated",
                report.missing.len(),
                expected.len(),
                report.duplicated.len()
            ));
            return Err(job.kept(e));
        }
        std::thread::sleep(Duration::from_millis(700));
        p.kill()?;
        let report = key_report(expected.clone(), commit_files_keys(&out)?);
        job.check(&report, "keys after SIGKILLs and restarts", exactly_once)?;
        Ok(Outcome::Passed(format!(
            "{} rows in {next_wave} waves, {kills} SIGKILLs; {} duplicates ({})",
            expected.len(),
            report.duplicated.len(),
            guarantee_words(exactly_once)
        )))
    }

    /// Crash recovery of a sink: a `datagen` source (the key a sequence, other columns random)
    /// writes into the sink in a runner process killed with SIGKILL twice or more and restarted
    /// from its state directory; every key is written (exactly once when the sink claims it).
    pub fn sink_crash_recovery(&self, ctx: &dyn ExternalContext) -> CheckResult {
        let Some(guarantee) = ctx.sink() else {
            return Ok(Outcome::Skipped("no sink".into()));
        };
        if guarantee == DeliveryGuarantee::None {
            return Ok(Outcome::Skipped(
                "the sink promises no delivery guarantee".into(),
            ));
        }
        let Some(runner) = self.runner() else {
            return Ok(Outcome::Skipped(
                "no runner binary (Suite::with_runner)".into(),
            ));
        };
        let exactly_once = guarantee == DeliveryGuarantee::ExactlyOnce;
        let table = "sink_crash_recovery";
        let schema = ctx.schema();
        let Some(key_col) = schema.physical_columns().next().cloned() else {
            return Err(Failure::new("the context's schema has no column"));
        };
        const N: u64 = 12_000;
        let k = &key_col.name;
        let src_opts: RawOptions = [
            ("connector".to_string(), "datagen".to_string()),
            ("rows-per-second".to_string(), "5000".to_string()),
            (format!("fields.{k}.kind"), "sequence".to_string()),
            (format!("fields.{k}.start"), "1".to_string()),
            (format!("fields.{k}.end"), N.to_string()),
        ]
        .into_iter()
        .collect();
        let sink_opts = ctx.table_options(table, Usage::Sink, true)?;
        let sql = format!(
            "SET 'execution.checkpointing.interval' = '300 ms';\nSET 'parallelism.default' = '2';\n\
             SET 'headrace.batch-size' = '500';\n{}{}INSERT INTO snk SELECT * FROM src;\n",
            create_table("src", &schema, &src_opts),
            create_table("snk", &schema, &sink_opts),
        );
        let job = CrashJob::new(runner, tempfile::tempdir()?, &sql)?;
        let kills = job.kill_rounds(ctx, [900, 1300, 700], |p, run| {
            std::thread::sleep(run);
            match p.exited()? {
                Some(status) if !status.success() => Err(Failure::new(format!(
                    "the job process failed ({status}): {}",
                    p.stderr()
                ))),
                _ => Ok(()),
            }
        })?;
        if kills < 2 {
            return Err(Failure::new(
                "the job ended before it could be killed twice; lower its rate",
            ));
        }
        let mut p = job.spawn_final()?;
        let status = p.wait(self.timeout * 2)?;
        if !status.success() {
            return Err(Failure::new(format!(
                "the restarted job failed ({status}): {}",
                p.stderr()
            )));
        }
        let got = ctx.read_written(table)?;
        let report = key_report((1..=N).map(|i| i.to_string()), got.iter().map(key_of));
        job.check(
            &report,
            "keys written across SIGKILLs and restarts",
            exactly_once,
        )?;
        Ok(Outcome::Passed(format!(
            "{N} rows, {kills} SIGKILLs, {} rows read back, {} duplicated keys ({})",
            got.len(),
            report.duplicated.len(),
            guarantee_words(exactly_once)
        )))
    }
}

/// Variable that makes a failed crash check keep its directory (the job file, the state directory
/// and each run's stderr as `run<n>.err` / `final.err`; run with `HEADRACE_LOG=info` for the
/// runtime's and the connector's logs in them).
pub const KEEP_ENV: &str = "HEADRACE_CONFORMANCE_KEEP";

/// How a report names the guarantee checked.
fn guarantee_words(exactly_once: bool) -> &'static str {
    if exactly_once {
        "exactly once"
    } else {
        "at least once"
    }
}

/// The job of a crash check, run by the runner binary: its SQL file, state directory and each
/// run's stderr in one temporary directory.
struct CrashJob<'a> {
    runner: &'a Path,
    dir: tempfile::TempDir,
    job: PathBuf,
    state: PathBuf,
}

impl<'a> CrashJob<'a> {
    /// Writes the job `sql` into `dir`.
    fn new(runner: &'a Path, dir: tempfile::TempDir, sql: &str) -> Result<Self, Failure> {
        let job = dir.path().join("job.sql");
        std::fs::write(&job, sql)?;
        let state = dir.path().join("state");
        Ok(CrashJob {
            runner,
            dir,
            job,
            state,
        })
    }

    /// The crash rounds: for each of `runs_ms`, starts the job (its stderr in `runN.err`), lets
    /// `during` watch it for that long, kills it with SIGKILL and restarts the external system.
    /// Returns how many kills hit a running process.
    fn kill_rounds(
        &self,
        ctx: &dyn ExternalContext,
        runs_ms: [u64; 3],
        mut during: impl FnMut(&mut RunnerProcess, Duration) -> Result<(), Failure>,
    ) -> Result<usize, Failure> {
        let mut kills = 0;
        for (round, run) in runs_ms.into_iter().enumerate() {
            let mut p = self.spawn(&format!("run{round}.err"))?;
            during(&mut p, Duration::from_millis(run))?;
            if p.kill()? {
                kills += 1;
            }
            ctx.restart_external()?;
        }
        Ok(kills)
    }

    /// Starts the job after the crash rounds (its stderr in `final.err`).
    fn spawn_final(&self) -> Result<RunnerProcess, Failure> {
        self.spawn("final.err")
    }

    fn spawn(&self, stderr: &str) -> Result<RunnerProcess, Failure> {
        spawn(
            self.runner,
            &self.job,
            &self.state,
            self.dir.path().join(stderr),
        )
    }

    /// Checks the keys of the job's output (see [`KeyReport::check`]); a failure names the kept
    /// directory when [`KEEP_ENV`] is set.
    fn check(self, report: &KeyReport, what: &str, exactly_once: bool) -> Result<(), Failure> {
        report.check(what, exactly_once).map_err(|e| self.kept(e))
    }

    /// `e`, naming the kept directory when [`KEEP_ENV`] is set.
    fn kept(self, e: Failure) -> Failure {
        if std::env::var_os(KEEP_ENV).is_none() {
            return e;
        }
        let path = self.dir.keep();
        e.context(format!(
            "job file, state and runner logs kept in {}",
            path.display()
        ))
    }
}

/// The failure of a wait on a running job, with the job's own error when it ended.
fn ended(job: super::harness::Running, rt: &tokio::runtime::Runtime, e: Failure) -> Failure {
    if job.is_finished() {
        match job.stop(rt, Duration::from_secs(5)) {
            Ok(summary) => e.context(format!("the job ended: {:?}", summary.outcome)),
            Err(job_error) => e.context(format!("the job failed: {job_error}")),
        }
    } else {
        job.abort();
        e
    }
}
