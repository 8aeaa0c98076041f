//! Where a result came from: pretext's version and commit, the machine and the date, which
//! every report states (results differ in their last digits between CPUs: the SIMD level
//! changes the order of the sums).

use std::time::{SystemTime, UNIX_EPOCH};

/// pretext's version and the commit it was built from.
pub fn build() -> String {
    format!("pretext {} (commit {})", env!("CARGO_PKG_VERSION"), env!("PRETEXT_COMMIT"))
}

/// The CPU's model name, the SIMD level each kind of hot kernel runs at on it, and the threads.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find_map(|l| l.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, name)| name.trim().to_string())))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cpu}, {}, {} threads", simd_dispatch(), rayon::current_num_threads())
}

/// What each kind of hot kernel dispatched to: the `gemm` crate picks its micro-kernels at run
/// time (AVX-512, else AVX2 with FMA), as do Burn flex's element-wise code (macerator) and our
/// conv/pool kernels (`kernels::simd`).
fn simd_dispatch() -> String {
    format!("SIMD: GEMM {}, element-wise {}, conv/pool {}", gemm_level(), elementwise_level(), crate::kernels::simd_level())
}

#[cfg(target_arch = "x86_64")]
fn elementwise_level() -> String {
    use macerator::Arch;
    match Arch::detect() {
        Arch::V4 => "AVX-512".into(),
        Arch::V3 => "AVX2".into(),
        Arch::V2 => "SSE4.2".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn elementwise_level() -> String {
    format!("{:?}", macerator::Arch::detect())
}

fn gemm_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "AVX2+FMA";
        }
    }
    "scalar"
}

/// The time now, as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_1970_become_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
    }
}
