//! Reader for the IDX format MNIST ships in (raw or gzip-compressed).
//!
//! Every size is checked against the file before anything is allocated, so a corrupt or
//! hostile header cannot make us reserve gigabytes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

/// IDX type code for unsigned bytes, the only element type MNIST uses.
const TYPE_U8: u8 = 0x08;
/// Gzip streams start with these two bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Deflate cannot compress better than about 1032:1; a larger claimed size is a lie.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (items, rows, columns for images).
    pub dims: Vec<usize>,
    /// Row-major payload, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes with exactly `rank` dimensions.
pub fn read_idx(path: &Path, rank: usize) -> Result<IdxArray> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::malformed(path, "is a directory, expected an IDX file"));
    }
    let file_len = meta.len();
    if file_len == 0 {
        return Err(Error::malformed(path, "file is empty"));
    }
    let file = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
    parse_stored(file, file_len, rank, path)
}

/// Parses IDX bytes as they are stored, raw or gzip-compressed, from a stream of
/// `stored_len` bytes (the entry point of the fuzz target in `fuzz/`).
pub fn parse_stored(mut reader: impl BufRead, stored_len: u64, rank: usize, path: &Path) -> Result<IdxArray> {
    if is_gzip(&mut reader).map_err(|e| read_error(path, e))? {
        parse_idx(GzDecoder::new(reader), stored_len.saturating_mul(MAX_DEFLATE_RATIO), rank, path)
    } else {
        parse_idx(reader, stored_len, rank, path)
    }
}

/// Whether the stream starts like gzip, looking at its first bytes without consuming them
/// (file names do not tell: a download in progress is `<name>.gz.part`).
pub fn is_gzip(reader: &mut impl BufRead) -> std::io::Result<bool> {
    Ok(reader.fill_buf()?.starts_with(&GZIP_MAGIC))
}

/// Parses an IDX stream whose payload cannot exceed `max_len` bytes.
pub fn parse_idx(mut reader: impl Read, max_len: u64, rank: usize, path: &Path) -> Result<IdxArray> {
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).map_err(|e| read_error(path, e))?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(Error::malformed(
            path,
            format!("not an IDX file (magic bytes {:02x?}, expected 00 00 08 0{rank})", magic),
        ));
    }
    if magic[2] != TYPE_U8 {
        return Err(Error::malformed(
            path,
            format!("IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)", magic[2]),
        ));
    }
    if magic[3] as usize != rank {
        return Err(Error::malformed(
            path,
            format!("has {} dimensions, expected {rank}", magic[3]),
        ));
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        let mut d = [0u8; 4];
        reader.read_exact(&mut d).map_err(|e| read_error(path, e))?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let len = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let len = match len {
        Some(len) if len <= max_len => len as usize,
        _ => {
            return Err(Error::malformed(
                path,
                format!("header claims dimensions {dims:?}, more bytes than the file can hold"),
            ));
        }
    };
    let mut data = Vec::with_capacity(len);
    let got = reader.by_ref().take(len as u64).read_to_end(&mut data).map_err(|e| read_error(path, e))?;
    if got < len {
        return Err(Error::malformed(
            path,
            format!("truncated: header {dims:?} needs {len} payload bytes, file holds {got}"),
        ));
    }
    let mut extra = [0u8; 1];
    if reader.read(&mut extra).map_err(|e| read_error(path, e))? != 0 {
        return Err(Error::malformed(path, format!("trailing bytes after the {len}-byte payload")));
    }
    Ok(IdxArray { dims, data })
}

fn read_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::malformed(path, "truncated: the file (or its gzip stream) ends early"),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            Error::malformed(path, format!("bad gzip data ({e})"))
        }
        _ => Error::io(path, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(rank: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, TYPE_U8, rank];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(payload);
        bytes
    }

    fn parse(bytes: &[u8], rank: usize) -> Result<IdxArray> {
        parse_idx(bytes, bytes.len() as u64, rank, Path::new("x.idx"))
    }

    #[test]
    fn reads_a_well_formed_array() {
        let arr = parse(&idx(3, &[2, 1, 2], &[1, 2, 3, 4]), 3).unwrap();
        assert_eq!(arr.dims, vec![2, 1, 2]);
        assert_eq!(arr.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rejects_wrong_magic_rank_and_type() {
        let err = parse(&[1, 2, 3, 4, 0, 0, 0, 0], 1).unwrap_err().to_string();
        assert!(err.contains("not an IDX file"), "{err}");
        let err = parse(&idx(1, &[2], &[0, 0]), 3).unwrap_err().to_string();
        assert!(err.contains("has 1 dimensions, expected 3"), "{err}");
        let mut float = idx(1, &[1], &[0, 0, 0, 0]);
        float[2] = 0x0d;
        let err = parse(&float, 1).unwrap_err().to_string();
        assert!(err.contains("element type 0x0d"), "{err}");
    }

    #[test]
    fn rejects_truncation_and_trailing_bytes() {
        let err = parse(&idx(1, &[5], &[1, 2]), 1).unwrap_err().to_string();
        assert!(err.contains("truncated") && err.contains("file holds 2"), "{err}");
        let err = parse(&[0, 0, 8, 3, 0, 0], 3).unwrap_err().to_string();
        assert!(err.contains("truncated: the file"), "{err}");
        let err = parse(&idx(1, &[1], &[1, 2]), 1).unwrap_err().to_string();
        assert!(err.contains("trailing bytes"), "{err}");
    }

    #[test]
    fn absurd_dimensions_fail_before_allocating() {
        let err = parse(&idx(3, &[u32::MAX, u32::MAX, u32::MAX], &[]), 3).unwrap_err().to_string();
        assert!(err.contains("more bytes than the file can hold"), "{err}");
    }
}
