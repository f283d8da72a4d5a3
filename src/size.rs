//! Byte sizes as people type them (`256M`, `64K`, `1GiB`, `4096`) and as copylab prints them.

/// Parse a size: a whole number with an optional binary suffix K, M, G, T (also KiB, KB, k…).
///
/// The error text is a sentence that names what was wrong; the caller adds the flag name.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "'{text}' is not a size: use a whole number with an optional K, M, G or T suffix (e.g. 256M)"
        ));
    }
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit '{suffix}': use K, M, G or T (binary, e.g. 64K = 65536 bytes)"
            ));
        }
    };
    let n: u64 = num.parse().map_err(|_| format!("'{text}' is too large"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A byte count for people: `256 MiB`, `1.5 GiB`, `4097 B`.
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let exact = n.is_multiple_of(1u64 << (10 * i));
    if i == 0 || (!exact && n < 10 << 10) {
        format!("{n} B")
    } else if exact {
        format!("{:.0} {}", v, UNITS[i])
    } else {
        format!("{:.2} {}", v, UNITS[i])
    }
}

/// ns as ms with the precision its size needs: "291", "37.0", "0.29" — every table and line
/// prints durations through this one function.
pub fn fmt_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Bytes in MiB (2^20): the one conversion every rate and "per MiB" figure goes through.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Bytes in GiB (2^30), for "per GiB" figures.
pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// A rate: `bytes` moved in `secs` seconds, in MiB/s.
pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    mib(bytes) / secs
}

/// A rate in MiB/s with the precision its size needs: "3408", "12.5", "0.0042" (a 1-byte file
/// is not "0 MiB/s"); "n/a" for none (an empty file has no rate).
pub fn fmt_mib_s(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if !v.is_finite() || v <= 0.0 => "n/a".into(),
        Some(v) if v >= 10.0 => format!("{v:.0}"),
        Some(v) if v >= 1.0 => format!("{v:.1}"),
        Some(v) => {
            // Two significant digits.
            let decimals = (1.0 - v.log10().floor()) as usize;
            format!("{v:.decimals$}")
        }
    }
}

/// A link rate (bytes per second) as network people say it, in bits per second, decimal:
/// `1 Gbit/s`, `500 Mbit/s`, `2.5 Gbit/s` — `--link`'s own units (see `cli::parse_rate`).
pub fn fmt_rate(bytes_per_s: u64) -> String {
    let bits = bytes_per_s as f64 * 8.0;
    let (v, unit) = if bits >= 1e12 {
        (bits / 1e12, "Tbit/s")
    } else if bits >= 1e9 {
        (bits / 1e9, "Gbit/s")
    } else if bits >= 1e6 {
        (bits / 1e6, "Mbit/s")
    } else if bits >= 1e3 {
        (bits / 1e3, "kbit/s")
    } else {
        (bits, "bit/s")
    };
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn rejects_bad_sizes_with_a_reason() {
        assert!(parse_size("12QB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("-5").unwrap_err().contains("not a size"));
        assert!(parse_size("").unwrap_err().contains("not a size"));
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(fmt_bytes(4097), "4097 B");
        assert_eq!(fmt_bytes(256 << 20), "256 MiB");
        assert_eq!(fmt_bytes(3 << 29), "1.50 GiB");
        assert_eq!(fmt_bytes((1 << 20) + 1), "1.00 MiB");
        assert_eq!(fmt_bytes(4096), "4 KiB");
    }
}
