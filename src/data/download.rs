//! Downloads into the cache, never leaving a file that looks complete but is not: each file
//! streams into `<name>.part`, is checked, and only then is renamed into place.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Fetches `file_name` from the first of `mirrors` (base addresses) that serves it whole and
/// passes `verify`, into `dest/file_name`. A file already there that passes `verify` is kept.
/// When every mirror fails, the error names each address tried and `needed`, the files a
/// local copy must hold; a checksum mismatch is that error instead.
pub fn fetch_file(mirrors: &[&str], file_name: &str, needed: &str, dest: &Path, verify: impl Fn(&Path) -> Result<()>) -> Result<PathBuf> {
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let final_path = dest.join(file_name);
    if final_path.exists() && verify(&final_path).is_ok() {
        eprintln!("{} already present and verified", final_path.display());
        return Ok(final_path);
    }
    let mut tried = Vec::new();
    let mut mismatch = None;
    for mirror in mirrors {
        let url = format!("{mirror}{file_name}");
        match download_verified(&url, &final_path, &verify) {
            Ok(()) => return Ok(final_path),
            Err(Error::Download { tried: failed, .. }) => tried.extend(failed),
            Err(other) => {
                tried.push((url, other.to_string()));
                mismatch = Some(other);
            }
        }
    }
    Err(mismatch.unwrap_or_else(|| Error::Download { tried, needed: needed.to_string() }))
}

/// The hex SHA-256 of everything `reader` yields (`path` names it in errors).
pub fn sha256_hex(mut reader: impl Read, path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut reader, &mut hasher)
        .map_err(|e| Error::malformed(path, format!("cannot be read to the end ({e})")))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Refuses `actual` unless it is `expected`.
pub fn check_sha256(path: &Path, expected: &str, actual: String) -> Result<()> {
    if actual != expected {
        return Err(Error::Checksum { file: path.to_path_buf(), expected: expected.into(), actual });
    }
    Ok(())
}

/// Streams `url` into `<final>.part` with a progress bar, checks it with `verify`, then
/// renames it into place.
fn download_verified(url: &str, final_path: &Path, verify: &impl Fn(&Path) -> Result<()>) -> Result<()> {
    let download_error = |reason: String| Error::Download { tried: vec![(url.to_string(), reason)], needed: String::new() };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(15))
        .timeout_read(std::time::Duration::from_secs(60))
        .build();
    // ureq's message starts with the address, which the error already names.
    let response = agent.get(url).call().map_err(|e| download_error(e.to_string().trim_start_matches(&format!("{url}: ")).to_string()))?;
    let total: Option<u64> = response.header("Content-Length").and_then(|v| v.parse().ok());
    let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    bar.set_style(
        ProgressStyle::with_template("{msg:30} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("static template"),
    );
    let file_name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    bar.set_message(file_name.clone());
    let part = final_path.with_file_name(format!("{file_name}.part"));
    let mut out = File::create(&part).map_err(|e| Error::io(&part, e))?;
    let mut reader = bar.wrap_read(response.into_reader());
    let copied = std::io::copy(&mut reader, &mut out).map_err(|e| download_error(e.to_string()))?;
    bar.finish_and_clear();
    if total.is_some_and(|t| t != copied) {
        return Err(download_error(format!("transfer ended after {copied} of {} bytes", total.unwrap_or(0))));
    }
    out.sync_all().map_err(|e| Error::io(&part, e))?;
    drop(out);
    if let Err(e) = verify(&part) {
        let _ = std::fs::remove_file(&part);
        return Err(match e {
            Error::Checksum { expected, actual, .. } => Error::Checksum { file: final_path.to_path_buf(), expected, actual },
            other => other,
        });
    }
    std::fs::rename(&part, final_path).map_err(|e| Error::io(final_path, e))
}
