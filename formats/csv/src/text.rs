//! Parsing and printing of single values in the textual forms Flink's CSV format uses.

use std::fmt::Write as _;

use arrow::datatypes::TimeUnit;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Trim what Java's `String.trim()` trims: every byte up to and including the space.
pub(crate) fn java_trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c > b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c > b' ').map_or(start, |p| p + 1);
    &b[start..end]
}

/// Java's `Boolean.parseBoolean`: `true` in any case is true, anything else false.
pub(crate) fn parse_bool(b: &[u8]) -> bool {
    java_trim(b).eq_ignore_ascii_case(b"true")
}

/// An integer in `[min, max]`, after trimming: an optional sign and decimal digits.
pub(crate) fn parse_int(b: &[u8], min: i64, max: i64) -> Option<i64> {
    let b = java_trim(b);
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // accumulate negatively so that i64::MIN fits
        v = v.checked_mul(10)?.checked_sub(i64::from(d))?;
    }
    let v = if neg { v } else { v.checked_neg()? };
    (min..=max).contains(&v).then_some(v)
}

/// A floating-point number, after trimming; accepts Java's `NaN` and `Infinity` spellings.
pub(crate) fn parse_float<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(java_trim(b)).ok()?.parse().ok()
}

/// A decimal as Java's `BigDecimal(String)` reads it (sign, digits, point, exponent), rounded
/// half-up to `scale`. `Ok(None)` when the value needs more than `precision` digits, which Flink
/// turns into NULL.
pub(crate) fn parse_decimal(b: &[u8], precision: u8, scale: i8) -> Result<Option<i128>, ()> {
    if let Some(v) = parse_decimal_simple(b, precision, scale) {
        return Ok(Some(v));
    }
    parse_decimal_general(b, precision, scale)
}

/// The common case in one pass: `[-+]digits[.digits]`, at most 18 digits, no more fraction digits
/// than the scale, within the precision. None means "use the general path".
fn parse_decimal_simple(b: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if rest.is_empty() || rest.len() > 18 || scale < 0 {
        return None;
    }
    let mut v: i64 = 0;
    let mut frac: i64 = -1;
    let mut digits = 0;
    for &c in rest {
        if c == b'.' {
            if frac >= 0 {
                return None;
            }
            frac = 0;
            continue;
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
        digits += 1;
        if frac >= 0 {
            frac += 1;
        }
    }
    let frac = frac.max(0);
    if digits == 0 || frac > i64::from(scale) {
        return None;
    }
    let v = i128::from(v) * 10i128.checked_pow(u32::try_from(i64::from(scale) - frac).ok()?)?;
    if v >= 10i128.checked_pow(u32::from(precision))? {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn parse_decimal_general(b: &[u8], precision: u8, scale: i8) -> Result<Option<i128>, ()> {
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    // first pass: the mantissa's extent, its significant digits and the exponent
    let mant_start = i;
    let mut frac_len: i64 = 0;
    let mut seen_point = false;
    let mut any_digit = false;
    let mut sig: i64 = 0; // digits from the first non-zero one
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if sig > 0 || c != b'0' {
                    sig += 1;
                }
                if seen_point {
                    frac_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return Err(());
    }
    let mant_end = i;
    let mut exp: i64 = 0;
    if i < b.len() {
        if b[i] != b'e' && b[i] != b'E' {
            return Err(());
        }
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
        if i >= b.len() {
            return Err(());
        }
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return Err(());
            }
            exp = exp.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        }
        if exp > i64::from(i32::MAX) {
            return Err(());
        }
        if eneg {
            exp = -exp;
        }
    }
    if sig == 0 {
        return Ok(Some(0));
    }
    let shift = exp - frac_len + i64::from(scale);
    // how many significant digits are kept, and whether the first dropped one rounds up
    let kept = if shift >= 0 { sig } else { sig + shift };
    if kept < 0 {
        return Ok(Some(0));
    }
    if kept + shift.max(0) > 38 {
        return Ok(None);
    }
    let mut v: i128 = 0;
    let mut taken: i64 = 0;
    let mut round_up = false;
    let mut started = false;
    for &c in &b[mant_start..mant_end] {
        if c == b'.' {
            continue;
        }
        if !started && c == b'0' {
            continue;
        }
        started = true;
        if taken < kept {
            v = v * 10 + i128::from(c - b'0');
            taken += 1;
        } else {
            round_up = c >= b'5';
            break;
        }
    }
    for _ in 0..shift.max(0) {
        v *= 10;
    }
    if round_up {
        v += 1;
    }
    let limit = 10i128
        .checked_pow(u32::from(precision))
        .unwrap_or(i128::MAX);
    if v >= limit {
        return Ok(None);
    }
    Ok(Some(if neg { -v } else { v }))
}

/// Print a decimal as Java's `BigDecimal.toString()` (`scientific`) or `toPlainString()`.
pub(crate) fn write_decimal(out: &mut String, v: i128, scale: i8, scientific: bool) {
    if v < 0 {
        out.push('-');
    }
    let digits = v.unsigned_abs().to_string();
    let scale = i64::from(scale);
    let len = digits.len() as i64;
    let adjusted = -scale + (len - 1);
    if scale == 0 || (scale > 0 && (!scientific || adjusted >= -6)) {
        if scale <= 0 {
            out.push_str(&digits);
        } else if len > scale {
            let (a, b) = digits.split_at((len - scale) as usize);
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        } else {
            out.push_str("0.");
            for _ in 0..(scale - len) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else if !scientific {
        // negative scale, plain
        out.push_str(&digits);
        if v != 0 {
            for _ in 0..(-scale) {
                out.push('0');
            }
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('E');
        if adjusted > 0 {
            out.push('+');
        }
        let _ = write!(out, "{adjusted}");
    }
}

/// Print a double as Java's `Double.toString` does (shortest digits; `1.0E10` outside
/// 10^-3..10^7).
pub(crate) fn write_java_float(out: &mut String, sci: &str, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `sci` is Rust's `{:e}` form of the value: shortest digits, e.g. "-1.2345e-7"
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if neg {
        out.push('-');
    }
    if v == 0.0 {
        out.push_str("0.0");
        return;
    }
    let abs = v.abs();
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{exp}");
    }
}

fn digits_n(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    if (1..=9999).contains(&y) {
        // non-negative years: plain division is floor division
        let y = if m <= 2 { y - 1 } else { y };
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        return y * 365 + y / 4 - y / 100 + y / 400 + doy - 719_468;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `yyyy-M-d` with one- or two-digit month and day (as `java.sql.Date.valueOf`), an optionally
/// signed year of four or more digits. Returns days since the epoch.
pub(crate) fn parse_date(b: &[u8]) -> Option<i64> {
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b {
        if let (Some(y), Some(m), Some(d)) = (
            two(&[y0, y1]).zip(two(&[y2, y3])).map(|(a, c)| a * 100 + c),
            two(&[m0, m1]),
            two(&[d0, d1]),
        ) {
            if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
                return None;
            }
            return Some(days_from_civil(y, m, d));
        }
    }
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut parts = body.splitn(3, |&c| c == b'-');
    let (ys, ms, ds) = (parts.next()?, parts.next()?, parts.next()?);
    if ys.len() < 4 || ys.len() > 9 || ms.len() > 2 || ds.len() > 2 {
        return None;
    }
    let y = digits_n(ys)?;
    let y = if neg { -y } else { y };
    let (m, d) = (digits_n(ms)?, digits_n(ds)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Print a day number as ISO `yyyy-MM-dd` (`+yyyyy` above 9999, `-yyyy` before year 0).
pub(crate) fn write_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if y > 9999 {
        let _ = write!(out, "+{y}-{m:02}-{d:02}");
    } else if y < 0 {
        let _ = write!(out, "-{:04}-{m:02}-{d:02}", -y);
    } else {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

/// `HH:mm[:ss[.fffffffff]]` (ISO local time) to nanoseconds of the day. With `need_seconds`, the
/// seconds are required (Flink's timestamp pattern).
pub(crate) fn parse_time(b: &[u8], need_seconds: bool) -> Option<i64> {
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = two(&b[0..2])?;
    let mi = two(&b[3..5])?;
    let mut s = 0;
    let mut nanos = 0;
    let rest = &b[5..];
    if rest.is_empty() {
        if need_seconds {
            return None;
        }
    } else {
        if rest.len() < 3 || rest[0] != b':' {
            return None;
        }
        s = two(&rest[1..3])?;
        let frac = &rest[3..];
        if !frac.is_empty() {
            if frac[0] != b'.' || frac.len() < 2 || frac.len() > 10 {
                return None;
            }
            let f = &frac[1..];
            nanos = digits_n(f)? * 10i64.pow(9 - f.len() as u32);
        }
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some((h * 3600 + mi * 60 + s) * NANOS_PER_SEC + nanos)
}

fn two(b: &[u8]) -> Option<i64> {
    if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        Some(i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'))
    } else {
        None
    }
}

fn write_fraction(out: &mut String, nanos: i64) {
    if nanos == 0 {
        return;
    }
    let mut digits = format!("{nanos:09}");
    while digits.ends_with('0') {
        digits.pop();
    }
    out.push('.');
    out.push_str(&digits);
}

/// Print nanoseconds of the day as ISO `HH:mm:ss[.fff]` (fraction without trailing zeros).
pub(crate) fn write_time(out: &mut String, nanos_of_day: i64) {
    let secs = nanos_of_day.div_euclid(NANOS_PER_SEC);
    let nanos = nanos_of_day.rem_euclid(NANOS_PER_SEC);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    write_fraction(out, nanos);
}

/// `yyyy-MM-dd HH:mm:ss[.fffffffff]` with an optional trailing `Z`, to seconds since the epoch
/// and nanoseconds.
pub(crate) fn parse_timestamp(b: &[u8]) -> Option<(i64, i64)> {
    let b = b.strip_suffix(b"Z").unwrap_or(b);
    let sp = b.iter().position(|&c| c == b' ')?;
    let days = parse_date(&b[..sp])?;
    let nanos = parse_time(&b[sp + 1..], true)?;
    let secs = days
        .checked_mul(SECS_PER_DAY)?
        .checked_add(nanos / NANOS_PER_SEC)?;
    Some((secs, nanos % NANOS_PER_SEC))
}

/// Seconds and nanoseconds to a value in `unit` (truncating), or None on overflow.
pub(crate) fn timestamp_to_unit(secs: i64, nanos: i64, unit: TimeUnit) -> Option<i64> {
    let per = i128::from(per_second(unit));
    let v = i128::from(secs) * per + i128::from(nanos) * per / i128::from(NANOS_PER_SEC);
    i64::try_from(v).ok()
}

/// Units per second.
pub(crate) fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => NANOS_PER_SEC,
    }
}

/// Print a timestamp value in `unit` as `yyyy-MM-dd HH:mm:ss[.fff]`, with `Z` when `ltz`.
pub(crate) fn write_timestamp(out: &mut String, v: i64, unit: TimeUnit, ltz: bool) {
    let per = per_second(unit);
    let secs = v.div_euclid(per);
    let nanos = v.rem_euclid(per) * (NANOS_PER_SEC / per);
    write_date(out, secs.div_euclid(SECS_PER_DAY));
    out.push(' ');
    write_time(out, secs.rem_euclid(SECS_PER_DAY) * NANOS_PER_SEC + nanos);
    if ltz {
        out.push('Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str, p: u8, sc: i8) -> Option<i128> {
        parse_decimal(s.as_bytes(), p, sc).unwrap()
    }

    #[test]
    fn decimals() {
        assert_eq!(dec("12.345", 10, 2), Some(1235));
        assert_eq!(dec("12.3", 10, 2), Some(1230));
        assert_eq!(dec("-0.01", 3, 2), Some(-1));
        assert_eq!(dec("9.99", 3, 2), Some(999));
        assert_eq!(dec("10.00", 3, 2), None);
        assert_eq!(dec("123", 38, 0), Some(123));
        assert_eq!(
            dec("9223372036854775807", 38, 0),
            Some(9_223_372_036_854_775_807)
        );
        assert_eq!(
            dec("99999999999999999999", 38, 1),
            Some(999_999_999_999_999_999_990)
        );
        assert_eq!(
            dec("99999999999999999999999999999999999999", 38, 0),
            Some(10i128.pow(38) - 1)
        );
        assert_eq!(dec("1", 38, 38), None);
        assert!(parse_decimal(b"-", 10, 2).is_err());
        assert!(parse_decimal(b".", 10, 2).is_err());
        assert!(parse_decimal(b"1..2", 10, 2).is_err());
        assert_eq!(dec("-12.345", 10, 2), Some(-1235));
        assert_eq!(dec("12.344", 10, 2), Some(1234));
        assert_eq!(dec("1.5e2", 10, 0), Some(150));
        assert_eq!(dec("+.5", 10, 0), Some(1));
        assert_eq!(
            dec("0.0000000000000000000000000000000000000000001", 10, 2),
            Some(0)
        );
        assert_eq!(dec("123456", 5, 0), None);
        assert_eq!(dec("99999.995", 7, 2), None);
        assert!(parse_decimal(b"1.2.3", 10, 2).is_err());
        assert!(parse_decimal(b"", 10, 2).is_err());
        assert!(parse_decimal(b"1e", 10, 2).is_err());
        assert!(parse_decimal(b" 1", 10, 2).is_err());
        let w = |v, s, sci| {
            let mut o = String::new();
            write_decimal(&mut o, v, s, sci);
            o
        };
        assert_eq!(w(1235, 2, true), "12.35");
        assert_eq!(w(-5, 2, true), "-0.05");
        assert_eq!(w(1, 8, true), "1E-8");
        assert_eq!(w(12, 8, true), "1.2E-7");
        assert_eq!(w(0, 8, true), "0E-8");
        assert_eq!(w(1, 8, false), "0.00000001");
        assert_eq!(w(1, 7, true), "1E-7");
        assert_eq!(w(1, 6, true), "0.000001");
        assert_eq!(w(42, 0, true), "42");
    }

    #[test]
    fn java_floats() {
        let f = |v: f64| {
            let mut o = String::new();
            write_java_float(&mut o, &format!("{v:e}"), v);
            o
        };
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(0.33333333332), "0.33333333332");
        assert_eq!(f(1e10), "1.0E10");
        assert_eq!(f(-1.25e-5), "-1.25E-5");
        assert_eq!(f(1234567.0), "1234567.0");
        assert_eq!(f(12345678.0), "1.2345678E7");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f(-0.0), "-0.0");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_date(b"0001-01-01"), Some(-719_162));
        assert_eq!(parse_date(b"9999-12-31"), Some(2_932_896));
        assert_eq!(parse_date(b"1900-02-28"), Some(-25_509));
        assert_eq!(parse_date(b"2000-03-01"), Some(11_017));
        assert_eq!(parse_date(b"2018-1-2"), Some(days_from_civil(2018, 1, 2)));
        assert_eq!(parse_date(b"2019-02-29"), None);
        assert_eq!(parse_date(b"2020-02-29"), Some(18321));
        assert_eq!(parse_date(b"20-02-29"), None);
        for d in [-800_000, -1, 0, 18321, 2_932_896, 3_000_000] {
            let mut o = String::new();
            write_date(&mut o, d);
            assert_eq!(parse_date(o.as_bytes()), Some(d), "{o}");
        }
        assert_eq!(parse_time(b"12:12", false), Some(43_920 * NANOS_PER_SEC));
        assert_eq!(parse_time(b"12:12", true), None);
        assert_eq!(parse_time(b"00:00:01.5", false), Some(1_500_000_000));
        assert_eq!(parse_time(b"24:00:00", false), None);
        let mut o = String::new();
        write_time(&mut o, 43_932 * NANOS_PER_SEC + 230_000_000);
        assert_eq!(o, "12:12:12.23");
        assert_eq!(
            parse_timestamp(b"1970-01-02 00:00:01.25Z"),
            Some((86_401, 250_000_000))
        );
        let mut o = String::new();
        write_timestamp(&mut o, -1, TimeUnit::Millisecond, true);
        assert_eq!(o, "1969-12-31 23:59:59.999Z");
    }
}
