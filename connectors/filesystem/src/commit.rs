//! Partition commit: telling readers that a partition is finished, as Flink's filesystem sink
//! does with `sink.partition-commit.*` and `partition.time-extractor.*`.
//!
//! Life cycle. Each writer tracks the partitions it wrote to since they were last committed
//! ("pending" partitions, kept in the writer's checkpointed state). At every checkpoint, after its
//! part files are rolled into the checkpoint's committables, the writer asks the trigger which
//! pending partitions are ready and reports them, together with the ones still pending, in one
//! committable. When the checkpoint completes, the committer first makes every part file of the
//! checkpoint visible, then runs the commit policy (the success file) for each partition that
//! at least one writer reported ready and no writer reported still pending. A success file
//! therefore never appears before the data of the checkpoints that covered the partition is
//! visible. When a bounded job ends, every pending partition is ready (Flink's end-of-input
//! watermark), so every partition written is committed at the end.
//!
//! Triggers:
//! - `process-time`: a partition is ready once the wall clock passes the time a writer first
//!   wrote to it plus `sink.partition-commit.delay` (checked at each checkpoint; with the default
//!   delay of 0 a partition is committed by the first checkpoint after it was written).
//! - `partition-time`: a partition is ready once the watermark passes the time extracted from its
//!   values plus the delay, as Flink's `PartitionTimeCommitPredicate`: at each checkpoint, a
//!   pending partition is ready when `watermark > partition time + delay`, where the watermark
//!   is the last one the runner passed to the writer
//!   ([`SinkWriter::on_watermark`](headrace_sdk::sink::SinkWriter::on_watermark), from the
//!   source table's `WATERMARK` declaration) and the partition time (a local date-time) is
//!   placed on the time line in `sink.partition-commit.watermark-time-zone` (`UTC` by default,
//!   right for a `TIMESTAMP` rowtime; a `TIMESTAMP_LTZ` rowtime wants the session's zone; a
//!   local time in a daylight-saving overlap takes the earlier instant, one in a gap is moved
//!   later by the gap, as Java's `atZone` does). With hourly partitions, a delay of `1 h` and
//!   `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`, partition `10:00` is committed by the first
//!   checkpoint after a row later than `11:00:05` was read (from every split that is not idle). Without a `WATERMARK` on the source the writer never gets a
//!   watermark before the end of input, so partitions are only committed when a bounded job
//!   ends (a warning says so once), as in Flink. A row written to a partition that was already
//!   committed makes it pending again and it is committed again (the success file is
//!   rewritten), as Flink does for late data. Watermarks are not checkpointed: after a restore
//!   a writer waits for the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use headrace_sdk::options::Options;
use headrace_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::options::{
    PARTITION_TIME_EXTRACTOR_CLASS, PARTITION_TIME_EXTRACTOR_KIND,
    PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER, PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN,
    SINK_PARTITION_COMMIT_DELAY, SINK_PARTITION_COMMIT_POLICY_CLASS,
    SINK_PARTITION_COMMIT_POLICY_KIND, SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME,
    SINK_PARTITION_COMMIT_TRIGGER, SINK_PARTITION_COMMIT_WATERMARK_TIME_ZONE,
};
use crate::partition::unescape;

headrace_sdk::option_enum! {
    /// `sink.partition-commit.trigger` values.
    pub enum CommitTrigger {
        /// Wall clock past the partition's creation time plus the delay.
        ProcessTime = "process-time",
        /// Watermark past the partition's time plus the delay.
        PartitionTime = "partition-time",
    }
}

/// How and when partitions are committed.
#[derive(Debug, Clone)]
pub struct PartitionCommit {
    /// When a partition is ready.
    pub trigger: CommitTrigger,
    /// `sink.partition-commit.delay`.
    pub delay: Duration,
    /// The success file's name.
    pub success_file_name: String,
    /// Extracts a partition's time (used by the `partition-time` trigger).
    pub extractor: TimeExtractor,
    /// `sink.partition-commit.watermark-time-zone`: where watermarks become local date-times.
    pub watermark_zone: WatermarkZone,
}

impl PartitionCommit {
    /// The partition commit configured by `options`, or None when no commit policy is set (or
    /// the table has no partition columns), as in Flink.
    pub fn from_options(options: &Options, partition_keys: &[String]) -> Result<Option<Self>> {
        let extractor = TimeExtractor::from_options(options)?;
        let trigger = options.get(&SINK_PARTITION_COMMIT_TRIGGER)?;
        let delay = options.get(&SINK_PARTITION_COMMIT_DELAY)?;
        let tz = options.get(&SINK_PARTITION_COMMIT_WATERMARK_TIME_ZONE)?;
        let Some(watermark_zone) = WatermarkZone::parse(&tz) else {
            return Err(options.invalid(
                &SINK_PARTITION_COMMIT_WATERMARK_TIME_ZONE,
                tz,
                "not a time zone id: use a region name such as 'America/Los_Angeles', 'UTC', \
                 or an offset such as 'GMT-08:00'",
            ));
        };
        let success_file_name = options.get(&SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME)?;
        if success_file_name.is_empty()
            || success_file_name.contains('/')
            || success_file_name == "."
            || success_file_name == ".."
        {
            return Err(options.invalid(
                &SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME,
                success_file_name,
                "the success file name must be a plain file name such as '_SUCCESS'",
            ));
        }
        let Some(kinds) = options.get_optional(&SINK_PARTITION_COMMIT_POLICY_KIND)? else {
            return Ok(None);
        };
        let mut success = false;
        for kind in kinds.split(',').map(str::trim) {
            match kind {
                "success-file" => success = true,
                "metastore" => {
                    return Err(options.invalid(
                        &SINK_PARTITION_COMMIT_POLICY_KIND,
                        kinds.clone(),
                        "'metastore' adds partitions to a Hive metastore, which only Hive tables \
                         have (Flink rejects it for filesystem tables too); the filesystem \
                         connector's partitions are its directories: use 'success-file'",
                    ))
                }
                "custom" => {
                    let class = options
                        .get_optional(&SINK_PARTITION_COMMIT_POLICY_CLASS)?
                        .unwrap_or_default();
                    return Err(options.invalid(
                        &SINK_PARTITION_COMMIT_POLICY_KIND,
                        kinds.clone(),
                        format!(
                            "'custom' runs a Java PartitionCommitPolicy class ('{class}' in \
                             'sink.partition-commit.policy.class'), which Headrace cannot load; \
                             use 'success-file' and react to the success file instead"
                        ),
                    ));
                }
                other => {
                    return Err(options.invalid(
                        &SINK_PARTITION_COMMIT_POLICY_KIND,
                        kinds.clone(),
                        format!(
                            "unknown policy '{other}': expected 'success-file' (or a \
                             comma-separated list of policies)"
                        ),
                    ))
                }
            }
        }
        if !success || partition_keys.is_empty() {
            return Ok(None);
        }
        if trigger == CommitTrigger::PartitionTime {
            extractor.check_keys(options, partition_keys)?;
        }
        Ok(Some(PartitionCommit {
            trigger,
            delay,
            success_file_name,
            extractor,
            watermark_zone,
        }))
    }
}

/// A Java `ZoneId` as `sink.partition-commit.watermark-time-zone` takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WatermarkZone {
    /// `Z`, `UTC`/`GMT`/`UT` with an optional offset, or an offset such as `+05:30`.
    Fixed(FixedOffset),
    /// A region of the IANA time zone database, such as `America/Los_Angeles`.
    Region(chrono_tz::Tz),
}

impl Default for WatermarkZone {
    fn default() -> Self {
        WatermarkZone::Fixed(Utc.fix())
    }
}

impl WatermarkZone {
    /// Parse a zone id; None when it is not one.
    pub fn parse(tz: &str) -> Option<WatermarkZone> {
        let offset = |s: &str| -> Option<FixedOffset> {
            let (sign, rest) = match s.strip_prefix('+') {
                Some(r) => (1, r),
                None => (-1, s.strip_prefix('-')?),
            };
            let (h, m) = rest.split_once(':').unwrap_or((rest, "00"));
            let num = |p: &str, max: i32| -> Option<i32> {
                if p.is_empty() || p.len() > 2 {
                    return None;
                }
                p.parse::<i32>().ok().filter(|v| *v <= max)
            };
            FixedOffset::east_opt(sign * (num(h, 18)? * 3600 + num(m, 59)? * 60))
        };
        if tz == "Z" {
            return Some(WatermarkZone::default());
        }
        if let Some(o) = offset(tz) {
            return Some(WatermarkZone::Fixed(o));
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = tz.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Some(WatermarkZone::default());
                }
                return offset(rest).map(WatermarkZone::Fixed);
            }
        }
        if !tz.contains('/') {
            return None;
        }
        tz.parse::<chrono_tz::Tz>().ok().map(WatermarkZone::Region)
    }

    /// The instant (epoch ms) of a local date-time in this zone; the local date-time is given
    /// as its milliseconds read as UTC (the scale partition times are on). In an overlap the
    /// earlier instant, in a gap the time moved later by the gap (Java's `atZone`).
    pub fn epoch_ms(&self, local_ms: i64) -> i64 {
        let Some(local) = DateTime::<Utc>::from_timestamp_millis(local_ms).map(|d| d.naive_utc())
        else {
            return local_ms;
        };
        match self {
            WatermarkZone::Fixed(o) => {
                local_ms.saturating_sub(i64::from(o.local_minus_utc()) * 1000)
            }
            WatermarkZone::Region(z) => {
                if let Some(t) = z.from_local_datetime(&local).earliest() {
                    return t.timestamp_millis();
                }
                // In a gap: the offset before it applies, which moves the time later by the gap.
                let before = z.offset_from_utc_datetime(&(local - chrono::Duration::days(1)));
                local_ms.saturating_sub(i64::from(before.fix().local_minus_utc()) * 1000)
            }
        }
    }
}

/// Flink's default partition time extractor: a timestamp string built from the partition values
/// (`partition.time-extractor.timestamp-pattern`, the first value by default) and parsed with a
/// Java `DateTimeFormatter` pattern (`partition.time-extractor.timestamp-formatter`; by default
/// `yyyy-MM-dd HH:mm:ss[.fraction]` or a date alone).
#[derive(Debug, Clone)]
pub struct TimeExtractor {
    pattern: Option<String>,
    formatter: Option<(String, String)>,
}

impl TimeExtractor {
    /// The extractor configured by `options`.
    pub fn from_options(options: &Options) -> Result<Self> {
        let kind = options.get(&PARTITION_TIME_EXTRACTOR_KIND)?;
        match kind.as_str() {
            "default" => {}
            "custom" => {
                let class = options
                    .get_optional(&PARTITION_TIME_EXTRACTOR_CLASS)?
                    .unwrap_or_default();
                return Err(options.invalid(
                    &PARTITION_TIME_EXTRACTOR_KIND,
                    kind,
                    format!(
                        "'custom' runs a Java PartitionTimeExtractor class ('{class}' in \
                         'partition.time-extractor.class'), which Headrace cannot load; use \
                         'default' with 'partition.time-extractor.timestamp-pattern' and \
                         '.timestamp-formatter'"
                    ),
                ));
            }
            _ => {
                return Err(options.invalid(
                    &PARTITION_TIME_EXTRACTOR_KIND,
                    kind,
                    "expected 'default' (or 'custom', which Headrace does not support)",
                ))
            }
        }
        let pattern = options.get_optional(&PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN)?;
        let formatter = match options.get_optional(&PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER)? {
            Some(f) => {
                let strftime = java_to_strftime(&f).map_err(|reason| {
                    options.invalid(
                        &PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER,
                        f.clone(),
                        reason,
                    )
                })?;
                Some((f, strftime))
            }
            None => None,
        };
        Ok(TimeExtractor { pattern, formatter })
    }

    /// Check that the pattern's `$name` references are partition columns.
    fn check_keys(&self, options: &Options, keys: &[String]) -> Result<()> {
        let Some(p) = &self.pattern else {
            return Ok(());
        };
        let mut rest = p.as_str();
        while let Some(i) = rest.find('$') {
            let name: String = rest[i + 1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !keys
                .iter()
                .any(|k| name.starts_with(k.as_str()) && !k.is_empty())
            {
                return Err(options.invalid(
                    &PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN,
                    p.clone(),
                    format!(
                        "'${name}' is not a partition column; the partition columns are {}",
                        keys.join(", ")
                    ),
                ));
            }
            rest = &rest[i + 1..];
        }
        Ok(())
    }

    /// The time of the partition with these keys and values.
    pub fn extract(&self, keys: &[String], values: &[String]) -> Result<NaiveDateTime> {
        let text = match &self.pattern {
            None => values.first().cloned().unwrap_or_default(),
            Some(p) => {
                // Longer names first, so '$hour' is not replaced by a key 'h'.
                let mut order: Vec<usize> = (0..keys.len()).collect();
                order.sort_by_key(|i| std::cmp::Reverse(keys[*i].len()));
                let mut s = p.clone();
                for i in order {
                    if let Some(v) = values.get(i) {
                        s = s.replace(&format!("${}", keys[i]), v);
                    }
                }
                s
            }
        };
        let parsed = match &self.formatter {
            Some((_, f)) => parse_with(&text, f),
            None => {
                parse_with(&text, "%Y-%m-%d %H:%M:%S%.f").or_else(|| parse_with(&text, "%Y-%m-%d"))
            }
        };
        parsed.ok_or_else(|| {
            let formatter = self
                .formatter
                .as_ref()
                .map_or("yyyy-MM-dd[ HH:mm:ss[.S]]", |(j, _)| j.as_str());
            Error::user(format!(
                "filesystem sink: cannot extract the time of partition {}: '{text}' does not \
                 match the formatter '{formatter}'. Set 'partition.time-extractor.timestamp-pattern' \
                 (e.g. '$dt $hour:00:00') and 'partition.time-extractor.timestamp-formatter' to \
                 match the partition values, or use 'sink.partition-commit.trigger' = 'process-time'",
                keys.iter()
                    .zip(values)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("/")
            ))
        })
    }
}

/// Parse `text` entirely with a strftime pattern; missing time fields are 0.
fn parse_with(text: &str, fmt: &str) -> Option<NaiveDateTime> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, StrftimeItems::new(fmt)).ok()?;
    let date = parsed.to_naive_date().ok()?;
    let hour = parsed.hour_div_12().unwrap_or(0) * 12 + parsed.hour_mod_12().unwrap_or(0);
    let time = NaiveTime::from_hms_nano_opt(
        hour,
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0),
        parsed.nanosecond().unwrap_or(0),
    )?;
    Some(date.and_time(time))
}

/// Translate a Java `DateTimeFormatter` pattern into a strftime pattern (the letters partition
/// values use: years, months, days, hours, minutes, seconds, fractions, AM/PM, day names).
pub fn java_to_strftime(p: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // quoted literal; '' is a quote
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                push_literal(&mut out, chars[j]);
                j += 1;
            }
            if j == chars.len() {
                return Err("unterminated quoted text (a ' without its closing ')".into());
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if matches!(c, '[' | ']' | '{' | '}' | '#') {
                return Err(format!("'{c}' (optional sections) is not supported"));
            }
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let spec = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M' | 'L', 1 | 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', _) => "%B",
            ('d', 1 | 2) => "%d",
            ('D', _) => "%j",
            ('H', 1 | 2) => "%H",
            ('h', 1 | 2) => "%I",
            ('m', 1 | 2) => "%M",
            ('s', 1 | 2) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', 1) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            _ => {
                return Err(format!(
                    "'{}' is not supported; use the letters y, M, d, D, H, h, m, s, S (3, 6 or \
                     9 of them), a and E",
                    c.to_string().repeat(n)
                ))
            }
        };
        out.push_str(spec);
        i += n;
    }
    if StrftimeItems::new(&out).any(|it| matches!(it, Item::Error)) {
        return Err("the pattern cannot be parsed".into());
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// The keys and (unescaped) values of a relative partition directory `k1=v1/k2=v2`.
pub fn dir_values(dir: &str) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for part in dir.split('/') {
        if let Some((k, v)) = part.split_once('=') {
            keys.push(unescape(k));
            values.push(unescape(v));
        }
    }
    (keys, values)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A partition a writer wrote to and has not reported ready since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    /// Wall-clock time (epoch ms) the writer first wrote to it.
    created_ms: i64,
    /// Its extracted time as milliseconds of the local date-time read as UTC (partition-time
    /// trigger only).
    time: Option<i64>,
}

/// A writer's pending partitions (its checkpointed state) and its current watermark (not
/// checkpointed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTracker {
    pending: BTreeMap<String, Pending>,
    /// The last watermark the runner passed (epoch ms); None before the first.
    #[serde(skip)]
    watermark: Option<i64>,
    #[serde(skip)]
    ended: bool,
    /// Whether the "no watermark" warning was logged.
    #[serde(skip)]
    warned: bool,
}

impl PartitionTracker {
    /// Merge restored state.
    pub fn merge(&mut self, other: PartitionTracker) {
        for (k, p) in other.pending {
            match self.pending.get(&k) {
                Some(q) if q.created_ms <= p.created_ms => {}
                _ => {
                    self.pending.insert(k, p);
                }
            }
        }
    }

    /// The writer's input watermark advanced to `watermark_ms` (epoch ms).
    pub fn on_watermark(&mut self, watermark_ms: i64) {
        self.watermark = self.watermark.max(Some(watermark_ms));
    }

    /// A row was written to the partition `dir`.
    pub fn saw(&mut self, dir: &str, commit: &PartitionCommit) -> Result<()> {
        if self.pending.contains_key(dir) {
            return Ok(());
        }
        let time = match commit.trigger {
            CommitTrigger::ProcessTime => None,
            CommitTrigger::PartitionTime => {
                let (keys, values) = dir_values(dir);
                let t = commit
                    .extractor
                    .extract(&keys, &values)?
                    .and_utc()
                    .timestamp_millis();
                Some(t)
            }
        };
        self.pending.insert(
            dir.to_string(),
            Pending {
                created_ms: now_ms(),
                time,
            },
        );
        Ok(())
    }

    /// All input was written: every pending partition is ready at the next checkpoint.
    pub fn end_of_input(&mut self) {
        self.ended = true;
    }

    /// The report of a checkpoint: pending partitions the trigger finds ready (removed from
    /// pending) and the ones still pending. None when there is nothing to report.
    pub fn report(&mut self, commit: &PartitionCommit) -> Option<PartitionReport> {
        if self.pending.is_empty() {
            return None;
        }
        let now = now_ms();
        let delay_ms = commit.delay.as_millis() as i64;
        // The end-of-input watermark commits everything, as the end of a bounded job does.
        let ended = self.ended || self.watermark == Some(i64::MAX);
        if commit.trigger == CommitTrigger::PartitionTime
            && self.watermark.is_none()
            && !ended
            && !self.warned
        {
            self.warned = true;
            tracing::warn!(
                "filesystem sink: 'sink.partition-commit.trigger' = 'partition-time' but no \
                 watermark has reached the sink: partitions are committed only when the input \
                 ends. Declare a WATERMARK on the source table (e.g. WATERMARK FOR ts AS ts - \
                 INTERVAL '5' SECOND), set 'scan.watermark.idle-timeout' if some of its \
                 partitions get no rows, or use the 'process-time' trigger"
            );
        }
        let wm = self.watermark;
        let zone = commit.watermark_zone;
        let (ready, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, p)| {
                ended
                    || match commit.trigger {
                        CommitTrigger::ProcessTime => now >= p.created_ms.saturating_add(delay_ms),
                        CommitTrigger::PartitionTime => match (wm, p.time) {
                            (Some(w), Some(t)) => w > zone.epoch_ms(t).saturating_add(delay_ms),
                            _ => false,
                        },
                    }
            });
        let report = PartitionReport {
            ready: ready.iter().map(|(k, _)| k.clone()).collect(),
            pending: pending.iter().map(|(k, _)| k.clone()).collect(),
        };
        self.pending = pending.into_iter().collect();
        Some(report)
    }

    /// Partitions still pending (for tests and logs).
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(String::as_str)
    }
}

/// What one writer says about partitions at one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionReport {
    /// Partitions ready to be committed (relative directories).
    pub ready: Vec<String>,
    /// Partitions this writer still has uncommitted data for.
    pub pending: Vec<String>,
}

/// The partitions to commit at one checkpoint: reported ready by a writer and pending at none.
pub fn partitions_to_commit(reports: &[PartitionReport]) -> BTreeSet<String> {
    let pending: BTreeSet<&String> = reports.iter().flat_map(|r| &r.pending).collect();
    reports
        .iter()
        .flat_map(|r| &r.ready)
        .filter(|p| !pending.contains(p))
        .cloned()
        .collect()
}

/// Write the success file of partition `dir` below `root` (an empty file, overwritten if it
/// exists, as Flink's success-file policy does).
pub fn write_success_file(root: &Path, dir: &str, name: &str) -> Result<()> {
    let path = root.join(dir).join(name);
    let f = std::fs::File::create(&path)
        .map_err(|e| Error::io(format!("cannot create success file {}", path.display()), e))?;
    f.sync_all()
        .map_err(|e| Error::io(format!("cannot sync success file {}", path.display()), e))?;
    tracing::info!(partition = dir, file = %path.display(), "filesystem sink: partition committed");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn extractor(pattern: Option<&str>, formatter: Option<&str>) -> TimeExtractor {
        TimeExtractor {
            pattern: pattern.map(String::from),
            formatter: formatter.map(|f| (f.to_string(), java_to_strftime(f).unwrap())),
        }
    }

    #[test]
    fn default_extractor_reads_first_value_as_date_or_timestamp() {
        let e = extractor(None, None);
        let k = vec!["dt".to_string(), "hour".to_string()];
        assert_eq!(
            e.extract(&k, &["2026-11-24".into(), "10".into()]).unwrap(),
            dt("2026-11-24 00:00:00")
        );
        assert_eq!(
            e.extract(&k, &["2026-11-24 10:30:00".into(), "x".into()])
                .unwrap(),
            dt("2026-11-24 10:30:00")
        );
        let err = e
            .extract(&k, &["yesterday".into(), "1".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dt=yesterday/hour=1") && err.contains("timestamp-pattern"),
            "{err}"
        );
    }

    #[test]
    fn pattern_and_formatter() {
        let k = vec!["dt".to_string(), "hour".to_string()];
        let e = extractor(Some("$dt $hour:00:00"), None);
        assert_eq!(
            e.extract(&k, &["2026-11-24".into(), "10".into()]).unwrap(),
            dt("2026-11-24 10:00:00")
        );
        let k3 = vec!["year".to_string(), "month".to_string(), "day".to_string()];
        let e = extractor(Some("$year$month$day"), Some("yyyyMMdd"));
        assert_eq!(
            e.extract(&k3, &["2026".into(), "11".into(), "24".into()])
                .unwrap(),
            dt("2026-11-24 00:00:00")
        );
        let e = extractor(Some("$dt $hour"), Some("yyyy/MM/dd HH"));
        assert_eq!(
            e.extract(&k, &["2026/11/24".into(), "07".into()]).unwrap(),
            dt("2026-11-24 07:00:00")
        );
        assert_eq!(
            java_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%dT%H:%M:%S.%3f"
        );
        assert!(java_to_strftime("yyyy-QQ").unwrap_err().contains("'QQ'"));
        assert!(java_to_strftime("yyyy'x").is_err());
    }

    #[test]
    fn zone_ids() {
        for ok in [
            "UTC",
            "GMT-08:00",
            "UTC+8",
            "Z",
            "+05:30",
            "America/Los_Angeles",
            "Etc/GMT+1",
        ] {
            assert!(WatermarkZone::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "PST8", "GMT+99", "America/", "utc x", "Nowhere"] {
            assert!(WatermarkZone::parse(bad).is_none(), "{bad}");
        }
        // 2026-11-24 18:00 in Shanghai is 10:00 UTC; 02:00 in Los Angeles (PST) is 10:00 UTC.
        let at = |s: &str| dt(s).and_utc().timestamp_millis();
        let epoch = |z: &str, local: &str| WatermarkZone::parse(z).unwrap().epoch_ms(at(local));
        let utc10 = at("2026-11-24 10:00:00");
        assert_eq!(epoch("UTC", "2026-11-24 10:00:00"), utc10);
        assert_eq!(epoch("Asia/Shanghai", "2026-11-24 18:00:00"), utc10);
        assert_eq!(epoch("America/Los_Angeles", "2026-11-24 02:00:00"), utc10);
        assert_eq!(epoch("GMT+05:30", "2026-11-24 15:30:00"), utc10);
        // Daylight saving in Los Angeles: 2026-11-01 01:30 happens twice (the earlier, PDT, is
        // 08:30 UTC); 2026-03-08 02:30 does not exist and becomes 03:30 PDT (10:30 UTC).
        assert_eq!(
            epoch("America/Los_Angeles", "2026-11-01 01:30:00"),
            at("2026-11-01 08:30:00")
        );
        assert_eq!(
            epoch("America/Los_Angeles", "2026-03-08 02:30:00"),
            at("2026-03-08 10:30:00")
        );
    }

    fn commit(trigger: CommitTrigger, delay: Duration, pattern: Option<&str>) -> PartitionCommit {
        PartitionCommit {
            trigger,
            delay,
            success_file_name: "_SUCCESS".into(),
            extractor: extractor(pattern, None),
            watermark_zone: WatermarkZone::default(),
        }
    }

    #[test]
    fn process_time_trigger_waits_for_the_delay() {
        let c = commit(CommitTrigger::ProcessTime, Duration::ZERO, None);
        let mut t = PartitionTracker::default();
        assert!(t.report(&c).is_none());
        t.saw("dt=a", &c).unwrap();
        let r = t.report(&c).unwrap();
        assert_eq!(r.ready, vec!["dt=a"]);
        assert!(t.report(&c).is_none());

        let c = commit(CommitTrigger::ProcessTime, Duration::from_secs(3600), None);
        t.saw("dt=b", &c).unwrap();
        let r = t.report(&c).unwrap();
        assert!(r.ready.is_empty());
        assert_eq!(r.pending, vec!["dt=b"]);
        t.end_of_input();
        assert_eq!(t.report(&c).unwrap().ready, vec!["dt=b"]);
    }

    fn ms(s: &str) -> i64 {
        dt(s).and_utc().timestamp_millis()
    }

    #[test]
    fn partition_time_trigger_follows_the_watermark() {
        let c = commit(
            CommitTrigger::PartitionTime,
            Duration::from_secs(3600),
            Some("$dt $hour:00:00"),
        );
        let mut t = PartitionTracker::default();
        t.saw("dt=2026-11-24/hour=10", &c).unwrap();
        t.saw("dt=2026-11-24/hour=11", &c).unwrap();
        // No watermark yet: nothing is ready, however late the partitions are.
        assert!(t.report(&c).unwrap().ready.is_empty());
        t.on_watermark(ms("2026-11-24 11:00:00"));
        assert!(
            t.report(&c).unwrap().ready.is_empty(),
            "10:00 + 1 h not passed"
        );
        t.on_watermark(ms("2026-11-24 11:00:00") + 1);
        let r = t.report(&c).unwrap();
        assert_eq!(r.ready, vec!["dt=2026-11-24/hour=10"]);
        assert_eq!(r.pending, vec!["dt=2026-11-24/hour=11"]);
        // The watermark is not part of the state: a restored writer waits for the next one.
        let json = serde_json::to_string(&t).unwrap();
        let mut back: PartitionTracker = serde_json::from_str(&json).unwrap();
        assert!(back.report(&c).unwrap().ready.is_empty());
        back.on_watermark(ms("2026-11-24 12:30:00"));
        assert_eq!(
            back.report(&c).unwrap().ready,
            vec!["dt=2026-11-24/hour=11"]
        );
        // The end-of-input watermark commits what is left.
        back.saw("dt=2026-11-25/hour=00", &c).unwrap();
        back.on_watermark(i64::MAX);
        assert_eq!(
            back.report(&c).unwrap().ready,
            vec!["dt=2026-11-25/hour=00"]
        );
    }

    #[test]
    fn the_watermark_is_compared_in_the_watermark_time_zone() {
        let mut c = commit(
            CommitTrigger::PartitionTime,
            Duration::ZERO,
            Some("$dt $hour:00:00"),
        );
        c.watermark_zone = WatermarkZone::parse("Asia/Shanghai").unwrap();
        let mut t = PartitionTracker::default();
        t.saw("dt=2026-11-24/hour=18", &c).unwrap();
        // 10:00 UTC is 18:00 in Shanghai: partition 18:00 (Shanghai time) is ready after it.
        t.on_watermark(ms("2026-11-24 10:00:00"));
        assert!(t.report(&c).unwrap().ready.is_empty());
        t.on_watermark(ms("2026-11-24 10:00:01"));
        assert_eq!(t.report(&c).unwrap().ready, vec!["dt=2026-11-24/hour=18"]);
    }

    #[test]
    fn a_partition_pending_at_any_writer_is_not_committed() {
        let a = PartitionReport {
            ready: vec!["p=1".into(), "p=2".into()],
            pending: vec![],
        };
        let b = PartitionReport {
            ready: vec![],
            pending: vec!["p=2".into()],
        };
        let got = partitions_to_commit(&[a, b]);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec!["p=1".to_string()]);
    }
}
