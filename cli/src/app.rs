//! The `headrace` command, parameterised by the registry so a user can ship the same command with
//! their own connectors: `fn main() -> ExitCode { headrace_cli::main_with(my_registry()) }`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::docs;
use clap::{Parser, Subcommand, ValueEnum};
use headrace_runtime::exec::{ExecOptions, JobMetrics, JobOutcome};
use headrace_runtime::{plan_job, RuntimeError};
use headrace_sdk::registry::Registry;

#[derive(Parser)]
#[command(
    name = "headrace",
    version,
    about = "Run Flink SQL jobs with Headrace connectors on one machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job file (SET, CREATE TABLE, INSERT INTO ... SELECT, EXECUTE STATEMENT SET).
    Run {
        /// The job file.
        job: PathBuf,
        /// Directory for checkpoints; a restart with the same directory resumes from the newest one.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Extra settings, as `key=value` (like SET 'key' = 'value' at the top of the job).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// No progress display and no summary.
        #[arg(long, short)]
        quiet: bool,
        /// Also write the summary as JSON to this file (for scripts and benchmarks).
        #[arg(long)]
        summary_json: Option<PathBuf>,
    },
    /// Check a job without running it: exit 1 if it is wrong, 2 if it is valid Flink SQL that
    /// needs Apache Flink (joins, aggregations, windows).
    Validate {
        /// The job file.
        job: PathBuf,
    },
    /// List every connector and format with its options.
    Connectors {
        /// Output format.
        #[arg(long, value_enum, default_value_t = DocFormat::Text)]
        format: DocFormat,
        /// With `--format md`: write one page per connector and format into this directory.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DocFormat {
    Text,
    Md,
    Json,
}

/// Parse the command line and run the `headrace` command with `registry`.
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEADRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run {
            job,
            state_dir,
            settings,
            quiet,
            summary_json,
        } => run(&registry, job, state_dir, settings, quiet, summary_json),
        Command::Validate { job } => validate(&registry, job),
        Command::Connectors { format, out_dir } => connectors(&registry, format, out_dir),
    }
}

fn read_job(job: &PathBuf, settings: &[String]) -> Result<String, String> {
    let sql = std::fs::read_to_string(job)
        .map_err(|e| format!("cannot read job file {}: {e}", job.display()))?;
    let mut prefix = String::new();
    for s in settings {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set '{s}': expected KEY=VALUE"))?;
        prefix.push_str(&format!(
            "SET '{}' = '{}';\n",
            k.trim().replace('\'', "''"),
            v.trim().replace('\'', "''")
        ));
    }
    Ok(format!("{prefix}{sql}"))
}

fn report(job: &std::path::Path, e: &RuntimeError) {
    eprintln!("error: {}: {e}", job.display());
}

fn validate(registry: &Registry, job: PathBuf) -> ExitCode {
    let sql = match read_job(&job, &[]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match plan_job(&sql, registry) {
        Ok(plan) => {
            println!(
                "{}: valid; {} pipeline(s): {}",
                job.display(),
                plan.pipelines.len(),
                plan.pipelines
                    .iter()
                    .map(|p| format!(
                        "{} (parallelism {}) -> {} (parallelism {})",
                        p.source_table, p.source_parallelism, p.sink_table, p.sink_parallelism
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.is_unsupported() => {
            eprintln!(
                "{}: valid Flink SQL, but not runnable by the local runner: {e}",
                job.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            report(&job, &e);
            ExitCode::from(1)
        }
    }
}

fn connectors(r: &Registry, format: DocFormat, out_dir: Option<PathBuf>) -> ExitCode {
    match format {
        DocFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&docs::registry_json(r)).unwrap_or_default()
            );
        }
        DocFormat::Md => {
            let pages = docs::pages(r);
            match out_dir {
                Some(dir) => {
                    if let Err(e) = std::fs::create_dir_all(&dir) {
                        eprintln!("error: cannot create {}: {e}", dir.display());
                        return ExitCode::from(1);
                    }
                    for (name, text) in pages {
                        let p = dir.join(name);
                        if let Err(e) = std::fs::write(&p, text) {
                            eprintln!("error: cannot write {}: {e}", p.display());
                            return ExitCode::from(1);
                        }
                    }
                }
                None => {
                    for (_, text) in pages {
                        println!("{text}");
                    }
                }
            }
        }
        DocFormat::Text => {
            for c in r.connectors() {
                let kinds = match (c.supports_source(), c.supports_sink()) {
                    (true, true) => "source, sink",
                    (true, false) => "source",
                    _ => "sink",
                };
                println!(
                    "connector {} ({kinds}): {}",
                    c.identifier(),
                    c.description()
                );
                let set = c.options();
                for o in set.required.iter() {
                    println!("  {} (required, {}): {}", o.key, o.type_name, o.description);
                }
                for o in set.optional.iter() {
                    println!(
                        "  {} ({}, default {}): {}",
                        o.key,
                        o.type_name,
                        o.default.unwrap_or("none"),
                        o.description
                    );
                }
                for t in set.templates.iter() {
                    println!(
                        "  {} ({}): {}",
                        t.template, t.option.type_name, t.option.description
                    );
                }
                for p in set.prefixes.iter() {
                    println!("  {}* : {}", p.prefix, p.description);
                }
            }
            for f in r.formats() {
                println!("format {}: {}", f.identifier(), f.description());
                for o in f.options().all() {
                    println!(
                        "  {}.{} ({}, default {}): {}",
                        f.identifier(),
                        o.key,
                        o.type_name,
                        o.default.unwrap_or("none"),
                        o.description
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}

fn human(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn run(
    registry: &Registry,
    job: PathBuf,
    state_dir: Option<PathBuf>,
    settings: Vec<String>,
    quiet: bool,
    summary_json: Option<PathBuf>,
) -> ExitCode {
    let sql = match read_job(&job, &settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let plan = match plan_job(&sql, registry) {
        Ok(p) => p,
        Err(e) => {
            report(&job, &e);
            return ExitCode::from(if e.is_unsupported() { 2 } else { 1 });
        }
    };
    let opts = match ExecOptions::from_settings(&plan.settings, state_dir) {
        Ok(o) => o,
        Err(e) => {
            report(&job, &e);
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let metrics = Arc::new(JobMetrics::default());
    let show = !quiet && std::io::stderr().is_terminal();
    let result = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(()).await;
        });
        let progress = if show {
            Some(tokio::spawn(progress_loop(metrics.clone())))
        } else {
            None
        };
        let r = headrace_runtime::execute(plan.pipelines, opts, metrics.clone(), stop_rx).await;
        if let Some(p) = progress {
            p.abort();
        }
        r
    });
    match result {
        Ok(summary) => {
            if let Some(p) = &summary_json {
                let v = serde_json::json!({
                    "outcome": format!("{:?}", summary.outcome),
                    "seconds": summary.elapsed.as_secs_f64(),
                    "restored_from": summary.restored_from,
                    "checkpoints": summary.checkpoints,
                    "rows_in": summary.rows_in,
                    "rows_out": summary.rows_out,
                    "skipped": summary.skipped,
                    "dead_lettered": summary.dead_lettered,
                });
                if let Err(e) = std::fs::write(p, v.to_string()) {
                    eprintln!("error: cannot write {}: {e}", p.display());
                    return ExitCode::from(1);
                }
            }
            if !quiet {
                match summary.outcome {
                    JobOutcome::AlreadyFinished => eprintln!(
                        "job already finished at checkpoint {} in this state directory; pending commits are done. \
                         Use a new --state-dir to run it again.",
                        summary.restored_from.unwrap_or(0)
                    ),
                    ref o => {
                        let secs = summary.elapsed.as_secs_f64().max(1e-9);
                        let verb = if *o == JobOutcome::Stopped { "Stopped" } else { "Finished" };
                        eprintln!(
                            "{verb} in {:.2}s{}; {} checkpoint(s).",
                            secs,
                            summary
                                .restored_from
                                .map(|c| format!(" (resumed from checkpoint {c})"))
                                .unwrap_or_default(),
                            summary.checkpoints
                        );
                        for (i, p) in metrics.pipelines_snapshot().iter().enumerate() {
                            let rin = summary.rows_in.get(i).copied().unwrap_or(0) as f64;
                            let rout = summary.rows_out.get(i).copied().unwrap_or(0) as f64;
                            eprintln!(
                                "  {} -> {}: {} rows read, {} rows written ({} rows/s read)",
                                p.source_table,
                                p.sink_table,
                                human(rin),
                                human(rout),
                                human(rin / secs)
                            );
                            let skipped = summary.skipped.get(i).copied().unwrap_or(0);
                            if skipped > 0 {
                                eprintln!(
                                    "  {} -> {}: {skipped} bad record(s) skipped (ignore-parse-errors \
                                     or 'headrace.bad-records.policy' = 'skip'); run with \
                                     HEADRACE_LOG=debug to see each one with its origin",
                                    p.source_table, p.sink_table
                                );
                            }
                            let dead = summary.dead_lettered.get(i).copied().unwrap_or(0);
                            if dead > 0 {
                                eprintln!(
                                    "  {} -> {}: {dead} bad record(s) sent to the dead-letter table",
                                    p.source_table, p.sink_table
                                );
                            }
                        }
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&job, &e);
            ExitCode::from(1)
        }
    }
}

async fn progress_loop(metrics: Arc<JobMetrics>) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let start = Instant::now();
    let mut last = (start, Vec::<(u64, u64, u64, u64)>::new());
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64().max(1e-6);
        let ps = metrics.pipelines_snapshot();
        let cur: Vec<(u64, u64, u64, u64)> = ps
            .iter()
            .map(|p| {
                (
                    p.source.records.load(Ordering::Relaxed),
                    p.bytes_in.load(Ordering::Relaxed),
                    p.sink.records.load(Ordering::Relaxed),
                    p.bytes_out.load(Ordering::Relaxed),
                )
            })
            .collect();
        let mut parts = Vec::new();
        for (i, p) in ps.iter().enumerate() {
            let c = cur[i];
            let prev = last.1.get(i).copied().unwrap_or((0, 0, 0, 0));
            parts.push(format!(
                "{}->{}: in {} rows ({}/s, {}B/s) out {} rows ({}/s, {}B/s)",
                p.source_table,
                p.sink_table,
                human(c.0 as f64),
                human((c.0 - prev.0.min(c.0)) as f64 / dt),
                human((c.1 - prev.1.min(c.1)) as f64 / dt),
                human(c.2 as f64),
                human((c.2 - prev.2.min(c.2)) as f64 / dt),
                human((c.3 - prev.3.min(c.3)) as f64 / dt),
            ));
            if let Some(w) = p.watermark().filter(|w| *w != i64::MAX) {
                if let Some(last) = parts.last_mut() {
                    last.push_str(&format!(
                        " watermark {}",
                        headrace_runtime::watermark::format_watermark(w)
                    ));
                }
            }
        }
        let cp = metrics.last_checkpoint.load(Ordering::Relaxed);
        if cp > 0 {
            let ms = metrics.last_checkpoint_ms.load(Ordering::Relaxed) as i64;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            parts.push(format!(
                "checkpoint {cp} ({:.0}s ago)",
                ((now_ms - ms).max(0) as f64) / 1000.0
            ));
        }
        bar.set_message(parts.join(" | "));
        bar.tick();
        last = (now, cur);
    }
}
