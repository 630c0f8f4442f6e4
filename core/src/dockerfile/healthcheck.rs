//! HEALTHCHECK, whose flags take durations in Go's `time.ParseDuration` format: `30s`, `1m30s`,
//! `1.5h`, `500ms`.

use std::time::Duration;

use super::error::ParseError;
use super::flags::{Ctx, Kind, parse_flags};
use super::instruction::{Command, Healthcheck};
use super::parse::command;

pub(crate) fn healthcheck(
    ctx: Ctx,
    flags: &[String],
    args: &str,
) -> Result<Healthcheck, ParseError> {
    let example = "HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1";
    let (kind, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let rest = rest.trim_start();
    if kind.is_empty() {
        return Err(ctx.args("needs CMD or NONE", example));
    }
    if kind.eq_ignore_ascii_case("NONE") {
        if !rest.is_empty() || !flags.is_empty() {
            return Err(
                ctx.invalid("NONE takes no flags or arguments; write HEALTHCHECK NONE alone")
            );
        }
        return Ok(Healthcheck::None);
    }
    if !kind.eq_ignore_ascii_case("CMD") {
        return Err(ctx.invalid(format!(
            "unknown type `{kind}`; expected CMD or NONE, e.g. {example}"
        )));
    }
    let names = [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ];
    let accepted = names.map(|n| (n, Kind::String));
    let flags = parse_flags(ctx, flags, &accepted, &[])?;
    let test = match command(ctx, rest)? {
        Some(Command::Exec(argv)) if argv.is_empty() => None,
        test => test,
    };
    let test = test.ok_or_else(|| ctx.args("needs a command after CMD", example))?;
    let duration = |name: &str| -> Result<_, ParseError> {
        let Some(text) = flags.string(name) else {
            return Ok(None);
        };
        let bad = |message: String| ParseError::BadFlag {
            line: ctx.line,
            instruction: ctx.keyword,
            flag: name.to_owned(),
            message,
        };
        let value = parse_go_duration(&text).ok_or_else(|| {
            bad(format!(
                "expects a duration such as 30s, 1m30s or 500ms, found `{text}`"
            ))
        })?;
        if value.is_zero() {
            return Ok(None);
        }
        if value.as_nanos() < 1_000_000 {
            return Err(bad(format!("must be 0 or at least 1ms, found `{text}`")));
        }
        Ok(Some(value))
    };
    let retries = match flags.string("retries") {
        None => None,
        Some(text) => match text.parse::<i64>().ok().and_then(|n| u32::try_from(n).ok()) {
            Some(0) => None,
            Some(n) if i32::try_from(n).is_ok() => Some(n),
            _ => {
                return Err(ParseError::BadFlag {
                    line: ctx.line,
                    instruction: ctx.keyword,
                    flag: "retries".to_owned(),
                    message: format!("expects a whole number from 0 to 2147483647, found `{text}`"),
                });
            }
        },
    };
    Ok(Healthcheck::Check {
        test,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    })
}

/// Parses a non-negative Go duration; `None` when `text` is not one (or is negative).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Some(Duration::ZERO);
    }
    if text.is_empty() || text.starts_with('-') {
        return None;
    }
    let mut rest = text;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                after.split_at(len)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        nanos = nanos.checked_add(whole.checked_mul(scale)?)?;
        // The fraction, truncated to whole nanoseconds (at most 20 digits matter).
        let digits = &frac[..frac.len().min(20)];
        if !digits.is_empty() {
            let value: u128 = digits.parse().ok()?;
            nanos = nanos.checked_add(value * scale / 10u128.pow(digits.len() as u32))?;
        }
        rest = after;
    }
    // Go durations are int64 nanoseconds.
    if nanos > i64::MAX as u128 {
        return None;
    }
    Some(Duration::from_nanos(u64::try_from(nanos).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("30s"), Some(ms(30_000)));
        assert_eq!(parse_go_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_go_duration("500ms"), Some(ms(500)));
        assert_eq!(parse_go_duration("1.5h"), Some(ms(5_400_000)));
        assert_eq!(parse_go_duration(".5s"), Some(ms(500)));
        assert_eq!(parse_go_duration("2h45m"), Some(ms(9_900_000)));
        assert_eq!(parse_go_duration("10us"), Some(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("10µs"), Some(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("7ns"), Some(Duration::from_nanos(7)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("+5s"), Some(ms(5_000)));
        for bad in [
            "",
            "5",
            "5x",
            "s",
            "-5s",
            "1m-30s",
            "5 s",
            ".s",
            "99999999999h",
        ] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
