//! Event-time watermarks, with Flink's semantics.
//!
//! A source table's `WATERMARK FOR ts AS expr` is evaluated on every batch a reader emits; a
//! watermark is the greatest value of `expr` seen. When the reader says which split a batch came
//! from ([`SourceReader::batch_split`](headrace_sdk::source::SourceReader::batch_split)), the
//! greatest value is kept per split, and the reader's watermark is the least over its splits
//! that are not idle (Flink's per-split watermark multiplexing): a split that has not produced
//! rows yet holds it back. A split is idle once it produced no rows for the idle timeout
//! (`scan.watermark.idle-timeout` / `table.exec.source.idle-timeout`); a reader whose splits are
//! all idle is idle. Readers send their watermark downstream when it advances, and
//! `i64::MAX` at the end of their input. Each writer combines the watermarks of the readers
//! feeding it: the least over the readers that are not idle ([`CombinedWatermark`]).
//! Watermarks only move forward and are not checkpointed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// What a reader tells the writers about event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkEvent {
    /// The reader's watermark advanced to this value (epoch ms).
    Advance(i64),
    /// The reader became idle (true) or active again (false).
    Idle(bool),
}

#[derive(Debug, Clone)]
struct Output {
    /// The greatest watermark value seen; None before the first row.
    max: Option<i64>,
    /// When rows last came (or when the split was assigned).
    last_active: Instant,
}

/// The watermark of one reader, per split.
#[derive(Debug, Clone)]
pub struct ReaderWatermarks {
    splits: BTreeMap<String, Output>,
    /// Batches the reader did not attribute to a split.
    untagged: Option<Output>,
    /// Whether the reader has attributed at least one batch to a split.
    tagged: bool,
    idle_timeout: Option<Duration>,
    created: Instant,
    emitted: Option<i64>,
    idle: bool,
}

impl ReaderWatermarks {
    /// A reader's tracker; `idle_timeout` None means splits never go idle.
    pub fn new(idle_timeout: Option<Duration>, now: Instant) -> Self {
        ReaderWatermarks {
            splits: BTreeMap::new(),
            untagged: None,
            tagged: false,
            idle_timeout: idle_timeout.filter(|d| !d.is_zero()),
            created: now,
            emitted: None,
            idle: false,
        }
    }

    /// Splits were assigned to the reader: each holds the watermark back until it produces rows
    /// (once the reader attributes batches to splits) or goes idle.
    pub fn add_splits<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>, now: Instant) {
        for id in ids {
            self.splits.entry(id.to_string()).or_insert(Output {
                max: None,
                last_active: now,
            });
        }
    }

    /// Only these splits are unfinished (the reader's checkpoint state lists them).
    pub fn retain_splits(&mut self, unfinished: &BTreeSet<&str>) {
        self.splits.retain(|id, _| unfinished.contains(id.as_str()));
    }

    /// The reader emitted a batch from `split` (None: it did not say) whose greatest watermark
    /// value is `value`.
    pub fn on_batch(&mut self, split: Option<&str>, value: Option<i64>, now: Instant) {
        let out = match split {
            Some(id) => {
                self.tagged = true;
                self.splits.entry(id.to_string()).or_insert(Output {
                    max: None,
                    last_active: now,
                })
            }
            None => self.untagged.get_or_insert(Output {
                max: None,
                last_active: now,
            }),
        };
        out.last_active = now;
        if value.is_some() {
            out.max = out.max.max(value);
        }
    }

    /// The reader's current watermark (None while a non-idle split has no rows yet, or when it
    /// is idle) and whether it is idle.
    pub fn current(&self, now: Instant) -> (Option<i64>, bool) {
        let outputs: Vec<&Output> = if self.tagged {
            self.splits.values().chain(self.untagged.iter()).collect()
        } else {
            self.untagged.iter().collect()
        };
        let is_idle = |since: Instant| {
            self.idle_timeout
                .is_some_and(|t| now.saturating_duration_since(since) >= t)
        };
        if outputs.is_empty() {
            // No splits yet (or all done): idle once the timeout passed since the reader started.
            return (None, is_idle(self.created));
        }
        let active: Vec<&Output> = outputs
            .into_iter()
            .filter(|o| !is_idle(o.last_active))
            .collect();
        if active.is_empty() {
            return (None, true);
        }
        let mut min = i64::MAX;
        for o in active {
            match o.max {
                Some(v) => min = min.min(v),
                None => return (None, false),
            }
        }
        (Some(min), false)
    }

    /// What to send downstream now: an idle-status change, then an advance if the watermark
    /// grew past the last one sent.
    pub fn update(&mut self, now: Instant) -> Vec<WatermarkEvent> {
        let (wm, idle) = self.current(now);
        let mut events = Vec::new();
        if idle != self.idle {
            self.idle = idle;
            events.push(WatermarkEvent::Idle(idle));
        }
        if let Some(w) = wm {
            if self.emitted.is_none_or(|e| w > e) {
                self.emitted = Some(w);
                events.push(WatermarkEvent::Advance(w));
            }
        }
        events
    }

    /// The last watermark sent.
    pub fn emitted(&self) -> Option<i64> {
        self.emitted
    }
}

/// A writer's watermark: the least over its input readers that are not idle.
#[derive(Debug, Clone)]
pub struct CombinedWatermark {
    inputs: Vec<(Option<i64>, bool)>,
    emitted: Option<i64>,
}

impl CombinedWatermark {
    /// For `inputs` readers, none of which has a watermark yet.
    pub fn new(inputs: usize) -> Self {
        CombinedWatermark {
            inputs: vec![(None, false); inputs],
            emitted: None,
        }
    }

    /// Reader `from` sent `event`.
    pub fn on_event(&mut self, from: usize, event: WatermarkEvent) {
        let Some(i) = self.inputs.get_mut(from) else {
            return;
        };
        match event {
            WatermarkEvent::Advance(w) => i.0 = i.0.max(Some(w)),
            WatermarkEvent::Idle(idle) => i.1 = idle,
        }
    }

    /// Reader `from` ended: its watermark is `i64::MAX`.
    pub fn on_end(&mut self, from: usize) {
        if let Some(i) = self.inputs.get_mut(from) {
            *i = (Some(i64::MAX), false);
        }
    }

    /// The combined watermark, None while an active reader has none or when all are idle.
    pub fn current(&self) -> Option<i64> {
        let mut min: Option<i64> = None;
        for (w, idle) in &self.inputs {
            if *idle {
                continue;
            }
            let w = (*w)?;
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        min
    }

    /// The new combined watermark if it advanced since the last call that returned one.
    pub fn advance(&mut self) -> Option<i64> {
        let w = self.current()?;
        if self.emitted.is_some_and(|e| w <= e) {
            return None;
        }
        self.emitted = Some(w);
        Some(w)
    }
}

/// A watermark for people: `2026-11-24 10:00:00.000` (epoch ms as a UTC date-time, which is
/// the local date-time of a TIMESTAMP rowtime), or `end of input` for `i64::MAX`.
pub fn format_watermark(ms: i64) -> String {
    if ms == i64::MAX {
        return "end of input".into();
    }
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}
