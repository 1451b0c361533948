//! Text forms of dates, times, timestamps and decimals, as Flink's JSON format writes and reads them.
//!
//! Everything here is allocation-free on the parse side and works on bytes, returning `None` (or an
//! error string) instead of panicking on any input.

use arrow::datatypes::TimeUnit;

/// Nanoseconds per second.
const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Seconds per day.
const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// A tiny cursor over ASCII bytes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn parse_date_at(c: &mut Cur<'_>) -> Option<i64> {
    let neg = if c.eat(b'-') {
        true
    } else {
        c.eat(b'+');
        false
    };
    let start = c.i;
    let mut year: i64 = 0;
    while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
        year = year.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
        c.i += 1;
        if c.i - start > 9 {
            return None;
        }
    }
    if c.i - start < 4 {
        return None;
    }
    if neg {
        year = -year;
    }
    if !c.eat(b'-') {
        return None;
    }
    let m = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(year, m) {
        return None;
    }
    Some(days_from_civil(year, m, d))
}

/// Parse `HH:mm[:ss[.fffffffff]]` (seconds required unless `seconds_optional`) into nanoseconds of
/// the day.
fn parse_time_at(c: &mut Cur<'_>, seconds_optional: bool) -> Option<i64> {
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut s = 0;
    let mut nanos = 0i64;
    if c.eat(b':') {
        s = c.digits(2)?;
        if c.eat(b'.') {
            let mut n = 0usize;
            while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                if n == 9 {
                    return None;
                }
                nanos = nanos * 10 + i64::from(d - b'0');
                n += 1;
                c.i += 1;
            }
            if n == 0 {
                return None;
            }
            for _ in n..9 {
                nanos *= 10;
            }
        }
    } else if !seconds_optional {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some((i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * NANOS_PER_SEC + nanos)
}

/// `yyyy-MM-dd` into days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let d = parse_date_at(&mut c)?;
    if !c.done() {
        return None;
    }
    i32::try_from(d).ok()
}

/// `HH:mm:ss[.f]` into a value of `unit` (fractions below the unit are truncated).
pub(crate) fn parse_time(s: &str, unit: TimeUnit) -> Option<i64> {
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let n = parse_time_at(&mut c, false)?;
    if !c.done() {
        return None;
    }
    Some(n / nanos_per_unit(unit))
}

fn nanos_per_unit(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => NANOS_PER_SEC,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Parse a timestamp: `yyyy-MM-dd HH:mm:ss[.f]` (SQL) or `yyyy-MM-ddTHH:mm[:ss[.f]]` (ISO-8601),
/// followed by `Z` when `ltz`. Returns the value in `unit` since the epoch.
pub(crate) fn parse_timestamp(s: &str, iso: bool, ltz: bool, unit: TimeUnit) -> Option<i64> {
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let days = parse_date_at(&mut c)?;
    if !c.eat(if iso { b'T' } else { b' ' }) {
        return None;
    }
    let nanos = parse_time_at(&mut c, iso)?;
    if ltz && !c.eat(b'Z') {
        return None;
    }
    if !c.done() {
        return None;
    }
    let per = nanos_per_unit(unit);
    let units_per_day = (SECS_PER_DAY * NANOS_PER_SEC) / per;
    days.checked_mul(units_per_day)?.checked_add(nanos / per)
}

fn push_2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Java's `ISO_LOCAL_DATE` year: four digits, `+` above 9999, `-` below zero.
fn push_year(out: &mut Vec<u8>, y: i64) {
    use std::io::Write;
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else if y > 9999 {
        let _ = write!(out, "+{y}");
    } else {
        let _ = write!(out, "-{:04}", y.unsigned_abs());
    }
}

/// `yyyy-MM-dd`.
pub(crate) fn write_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_year(out, y);
    out.push(b'-');
    push_2(out, m);
    out.push(b'-');
    push_2(out, d);
}

/// `HH:mm:ss` plus `.f` with trailing zeros removed when the fraction is not zero (as Java's
/// `appendFraction(NANO_OF_SECOND, 0, 9, true)`).
fn write_time_nanos(out: &mut Vec<u8>, secs_of_day: i64, nanos: i64) {
    let h = (secs_of_day / 3600) as u32;
    let m = (secs_of_day / 60 % 60) as u32;
    let s = (secs_of_day % 60) as u32;
    push_2(out, h);
    out.push(b':');
    push_2(out, m);
    out.push(b':');
    push_2(out, s);
    if nanos > 0 {
        let mut digits = [0u8; 9];
        let mut n = nanos;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let mut len = 9;
        while len > 0 && digits[len - 1] == b'0' {
            len -= 1;
        }
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Split a value in `unit` into whole seconds and nanoseconds (floor division).
fn split(v: i64, unit: TimeUnit) -> (i64, i64) {
    let per = nanos_per_unit(unit);
    let units_per_sec = NANOS_PER_SEC / per;
    (
        v.div_euclid(units_per_sec),
        v.rem_euclid(units_per_sec) * per,
    )
}

/// A time of day in `unit`.
pub(crate) fn write_time(out: &mut Vec<u8>, v: i64, unit: TimeUnit) {
    let (secs, nanos) = split(v, unit);
    write_time_nanos(out, secs.rem_euclid(SECS_PER_DAY), nanos);
}

/// A timestamp in `unit` since the epoch, in the SQL or ISO-8601 form, with `Z` when `ltz`.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, v: i64, unit: TimeUnit, iso: bool, ltz: bool) {
    let (secs, nanos) = split(v, unit);
    write_date(out, secs.div_euclid(SECS_PER_DAY));
    out.push(if iso { b'T' } else { b' ' });
    write_time_nanos(out, secs.rem_euclid(SECS_PER_DAY), nanos);
    if ltz {
        out.push(b'Z');
    }
}

/// Why a decimal could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecimalError {
    /// Not a number.
    Syntax,
    /// More digits than the precision allows.
    Overflow,
}

/// Parse a decimal number (optionally signed, with fraction and exponent) into its unscaled value
/// at `scale`, rounding half up as Java's `BigDecimal` does for Flink, and checking `precision`.
pub(crate) fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, DecimalError> {
    let b = s.trim().as_bytes();
    if let Some(r) = parse_decimal_simple(b, precision, scale) {
        return r;
    }
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // Significant digits (leading zeros dropped), how many of them follow the point.
    let mut digits: [u8; 80] = [0; 80];
    let mut n = 0usize;
    let mut frac_digits: i64 = 0;
    let mut any = false;
    let mut extra_int_digits: i64 = 0;
    let mut seen_point = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            any = true;
            if seen_point {
                frac_digits += 1;
            }
            if n == 0 && c == b'0' {
                // leading zero: no significance
            } else if n < digits.len() {
                digits[n] = c - b'0';
                n += 1;
            } else {
                // beyond 80 significant digits: too large, or too fine to change the rounding
                if !seen_point {
                    extra_int_digits += 1;
                } else {
                    frac_digits -= 1;
                }
            }
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return Err(DecimalError::Syntax);
    }
    let mut exp: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exp = (exp * 10 + i64::from(b[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Syntax);
        }
        if eneg {
            exp = -exp;
        }
    }
    if i != b.len() {
        return Err(DecimalError::Syntax);
    }
    // value = D * 10^(exp - frac_digits + extra_int_digits); unscaled = D * 10^k
    let k = exp - frac_digits + extra_int_digits + i64::from(scale);
    let digits = &digits[..n];
    let mut v: i128 = 0;
    if k >= 0 {
        if n == 0 {
            return Ok(0);
        }
        for d in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(*d)))
                .ok_or(DecimalError::Overflow)?;
        }
        for _ in 0..k {
            v = v.checked_mul(10).ok_or(DecimalError::Overflow)?;
            if v >= 10i128.pow(38) {
                return Err(DecimalError::Overflow);
            }
        }
    } else {
        let drop = -k;
        let keep = n as i64 - drop;
        if keep < 0 {
            v = 0;
        } else {
            let keep = keep as usize;
            for d in &digits[..keep] {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(*d)))
                    .ok_or(DecimalError::Overflow)?;
            }
            if keep < n && digits[keep] >= 5 {
                v = v.checked_add(1).ok_or(DecimalError::Overflow)?;
            }
        }
    }
    let limit = 10i128.pow(u32::from(precision.min(38)));
    if v >= limit {
        return Err(DecimalError::Overflow);
    }
    Ok(if neg { -v } else { v })
}

/// The common case without exponent, at most 18 digits and no rounding; `None` when the general
/// parser must decide.
#[inline]
fn parse_decimal_simple(b: &[u8], precision: u8, scale: i8) -> Option<Result<i128, DecimalError>> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let scale = u32::try_from(scale).ok()?;
    let mut v: u64 = 0;
    let mut n = 0u32;
    let mut frac: Option<u32> = None;
    for &c in digits {
        if c.is_ascii_digit() {
            if n == 18 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            n += 1;
            if let Some(f) = frac.as_mut() {
                *f += 1;
            }
        } else if c == b'.' && frac.is_none() {
            frac = Some(0);
        } else {
            return None;
        }
    }
    let frac = frac.unwrap_or(0);
    if n == 0 || frac > scale {
        return None;
    }
    let Some(x) = i128::from(v).checked_mul(10i128.pow(scale - frac)) else {
        return Some(Err(DecimalError::Overflow));
    };
    if x >= 10i128.pow(u32::from(precision.min(38))) {
        return Some(Err(DecimalError::Overflow));
    }
    Some(Ok(if neg { -x } else { x }))
}

/// Write an unscaled decimal as Java's `BigDecimal.toString()` (scientific notation for small
/// magnitudes) or, when `plain`, as `toPlainString()`.
pub(crate) fn write_decimal(out: &mut Vec<u8>, unscaled: i128, scale: i8, plain: bool) {
    use std::io::Write;
    if unscaled < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 40];
    let mut len = 0;
    let mut u = unscaled.unsigned_abs();
    loop {
        buf[len] = b'0' + (u % 10) as u8;
        len += 1;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    buf[..len].reverse();
    let coeff = &buf[..len];
    let scale = i64::from(scale);
    let adjusted = -scale + (len as i64 - 1);
    if scale == 0 {
        out.extend_from_slice(coeff);
    } else if scale > 0 && (plain || adjusted >= -6) {
        let s = scale as usize;
        if len > s {
            out.extend_from_slice(&coeff[..len - s]);
            out.push(b'.');
            out.extend_from_slice(&coeff[len - s..]);
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', s - len));
            out.extend_from_slice(coeff);
        }
    } else if plain {
        // negative scale: append zeros
        out.extend_from_slice(coeff);
        if unscaled != 0 {
            out.extend(std::iter::repeat_n(b'0', (-scale) as usize));
        }
    } else {
        out.push(coeff[0]);
        if len > 1 {
            out.push(b'.');
            out.extend_from_slice(&coeff[1..]);
        }
        out.push(b'E');
        if adjusted > 0 {
            out.push(b'+');
        }
        let _ = write!(out, "{adjusted}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn dates() {
        for days in [-800_000i64, -1, 0, 1, 20_000, 2_932_896, 3_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("2026-11-25"), Some(20_782));
        assert_eq!(s(|o| write_date(o, 20_782)), "2026-11-25");
        assert_eq!(parse_date("2024-02-29").map(|_| ()), Some(()));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-13-01"), None);
        assert_eq!(parse_date("23-01-01"), None);
        assert_eq!(parse_date("2023-01-01x"), None);
        assert_eq!(
            s(|o| write_date(o, days_from_civil(12345, 1, 2))),
            "+12345-01-02"
        );
        assert_eq!(
            s(|o| write_date(o, days_from_civil(-5, 1, 2))),
            "-0005-01-02"
        );
        assert_eq!(
            parse_date("-0005-01-02"),
            Some(days_from_civil(-5, 1, 2) as i32)
        );
    }

    #[test]
    fn times_and_timestamps() {
        assert_eq!(
            parse_time("12:34:56.5", TimeUnit::Millisecond),
            Some(45_296_500)
        );
        assert_eq!(parse_time("12:34", TimeUnit::Second), None);
        assert_eq!(parse_time("24:00:00", TimeUnit::Second), None);
        assert_eq!(
            s(|o| write_time(o, 45_296_500, TimeUnit::Millisecond)),
            "12:34:56.5"
        );
        assert_eq!(s(|o| write_time(o, 45_296, TimeUnit::Second)), "12:34:56");
        let v = parse_timestamp(
            "2026-11-25 12:34:56.123",
            false,
            false,
            TimeUnit::Millisecond,
        )
        .unwrap();
        assert_eq!(
            s(|o| write_timestamp(o, v, TimeUnit::Millisecond, true, true)),
            "2026-11-25T12:34:56.123Z"
        );
        assert_eq!(
            parse_timestamp("2026-11-25T12:34Z", true, true, TimeUnit::Second),
            Some(v / 1000 - 56)
        );
        assert_eq!(
            parse_timestamp("2026-11-25T12:34:56", false, false, TimeUnit::Second),
            None
        );
        assert_eq!(
            parse_timestamp("9999-12-31 23:59:59", false, false, TimeUnit::Nanosecond),
            None
        );
        assert_eq!(
            s(|o| write_timestamp(o, -1, TimeUnit::Millisecond, false, false)),
            "1969-12-31 23:59:59.999"
        );
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("123.45", 10, 2), Ok(12345));
        assert_eq!(parse_decimal("-1.005", 10, 2), Ok(-101));
        assert_eq!(parse_decimal("1.004", 10, 2), Ok(100));
        assert_eq!(parse_decimal("1e3", 10, 2), Ok(100_000));
        assert_eq!(parse_decimal("0.0000000000001", 10, 2), Ok(0));
        assert_eq!(parse_decimal("000012.3", 4, 1), Ok(123));
        assert_eq!(parse_decimal("1234.5", 4, 1), Err(DecimalError::Overflow));
        assert_eq!(
            parse_decimal("1e999999999", 38, 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal("0e999999999", 38, 0), Ok(0));
        assert_eq!(parse_decimal("1e-999999999", 38, 0), Ok(0));
        assert_eq!(parse_decimal("abc", 5, 0), Err(DecimalError::Syntax));
        assert_eq!(
            parse_decimal("999999999999999999", 38, 38),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal("-0.5", 1, 1), Ok(-5));
        assert_eq!(parse_decimal(".5", 2, 1), Ok(5));
        assert_eq!(parse_decimal("5.", 2, 1), Ok(50));
        assert_eq!(parse_decimal(".", 2, 1), Err(DecimalError::Syntax));
        assert_eq!(parse_decimal("1.23", 38, 38), Err(DecimalError::Overflow));
        assert_eq!(parse_decimal("0.23", 38, 38), Ok(23 * 10i128.pow(36)));
        assert_eq!(parse_decimal("1.2.3", 5, 0), Err(DecimalError::Syntax));
        assert_eq!(parse_decimal("", 5, 0), Err(DecimalError::Syntax));
        assert_eq!(parse_decimal("-", 5, 0), Err(DecimalError::Syntax));
        let nines = "9".repeat(200);
        assert_eq!(parse_decimal(&nines, 38, 0), Err(DecimalError::Overflow));
        assert_eq!(s(|o| write_decimal(o, 12345, 2, false)), "123.45");
        assert_eq!(s(|o| write_decimal(o, -5, 3, false)), "-0.005");
        assert_eq!(s(|o| write_decimal(o, 1, 7, false)), "1E-7");
        assert_eq!(s(|o| write_decimal(o, 1, 7, true)), "0.0000001");
        assert_eq!(s(|o| write_decimal(o, 0, 8, false)), "0E-8");
        assert_eq!(s(|o| write_decimal(o, 123, 9, false)), "1.23E-7");
        assert_eq!(s(|o| write_decimal(o, i128::MIN + 1, 0, false)).len(), 40);
    }
}
