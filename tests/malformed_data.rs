//! Malformed data files give an error that names the file and the problem.

mod common;

use std::io::Write;
use std::path::Path;

use pretext::data::catalog::MNIST;

fn idx(rank: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, rank];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A tiny data set in MNIST's file layout: 3 train and 2 test images of 2x2.
fn write_set(dir: &Path) {
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&idx(3, &[3, 2, 2], &[7; 12]))).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(1, &[3], &[1, 2, 3])).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(3, &[2, 2, 2], &[9; 8])).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(1, &[2], &[0, 9])).unwrap();
}

fn load_error(dir: &Path) -> String {
    MNIST.load(dir).unwrap_err().to_string()
}

#[test]
fn a_well_formed_tiny_set_loads_from_raw_and_gzip_files() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    assert_eq!(MNIST.resolve_dir(Some(dir.path())).unwrap(), dir.path());
    let data = MNIST.load(dir.path()).unwrap();
    assert_eq!((data.train.len(), data.test.len(), data.train.shape().height), (3, 2, 2));
    assert_eq!(data.test.labels(), &[0, 9]);
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    std::fs::write(dir.path().join("train-labels-idx1-ubyte"), idx(1, &[2], &[1, 2])).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("train-labels-idx1-ubyte: holds 2 labels but") && err.contains("holds 3 images"), "{err}");
}

#[test]
fn labels_outside_the_classes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), idx(1, &[2], &[0, 12])).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("label 12 at index 1 is outside 0..9"), "{err}");
}

#[test]
fn corrupt_gzip_empty_files_and_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let good = std::fs::read(&path).unwrap();
    // A damaged checksum in the gzip trailer.
    let mut bad_crc = good.clone();
    let crc = bad_crc.len() - 8;
    bad_crc[crc] ^= 0xff;
    std::fs::write(&path, bad_crc).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("train-images-idx3-ubyte.gz: bad gzip data (corrupt gzip stream"), "{err}");
    assert!(err.ends_with("`pretext data fetch mnist` downloads a copy with verified checksums"), "{err}");
    // A download cut short.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("train-images-idx3-ubyte.gz: truncated"), "{err}");

    std::fs::write(&path, b"").unwrap();
    assert!(load_error(dir.path()).contains("train-images-idx3-ubyte.gz: file is empty"));

    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(dir.path().join("train-images-idx3-ubyte")).unwrap();
    // A directory where a file should be is not taken for the data set...
    assert!(MNIST.resolve_dir(Some(dir.path())).is_err());
    // ...and loading from it directly names it.
    assert!(load_error(dir.path()).contains("is a directory"));
}

#[test]
fn a_header_claiming_more_than_the_file_holds_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    let huge = gzip(&idx(3, &[60000, 60000, 60000], &[1, 2, 3]));
    std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), huge).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("more bytes than the file can hold"), "{err}");
}

/// A bounded, deterministic fuzz of the IDX parser: thousands of mutations of valid raw and
/// gzip files (bytes flipped, cut, inserted, dimensions rewritten) must each parse into a
/// consistent array or give a `MalformedData` error naming the file, and never panic.
#[test]
fn mutated_idx_files_parse_or_fail_cleanly_and_never_panic() {
    use pretext::data::idx::parse_stored;
    use pretext::error::Error;
    use rand_chacha::ChaCha12Rng;
    use rand::{Rng, SeedableRng};

    let path = Path::new("fuzzed-idx");
    let valid = idx(3, &[3, 2, 2], &(0..12).collect::<Vec<u8>>());
    let mut rng = ChaCha12Rng::seed_from_u64(5);
    for case in 0..4000 {
        let mut bytes = if case % 2 == 0 { valid.clone() } else { gzip(&valid) };
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..4) {
                0 => bytes[at] ^= 1 << rng.random_range(0..8),
                1 => bytes.truncate(at),
                2 => bytes.insert(at, rng.random()),
                _ => bytes[at] = [0x00, 0x01, 0x7f, 0xff][rng.random_range(0..4)],
            }
            if bytes.is_empty() {
                break;
            }
        }
        let parsed = std::panic::catch_unwind(|| parse_stored(&bytes[..], bytes.len() as u64, 3, path));
        match parsed {
            Err(_) => panic!("case {case} panicked on {bytes:02x?}"),
            Ok(Ok(array)) => assert_eq!(array.data.len(), array.dims.iter().product::<usize>(), "case {case}"),
            Ok(Err(Error::MalformedData { path: named, .. })) => assert_eq!(named, path, "case {case}"),
            Ok(Err(other)) => panic!("case {case}: unexpected error kind {other}"),
        }
    }
}

/// The kept corpus of malformed files (`tests/data/malformed-idx`, also the seed corpus of
/// the fuzz target in `fuzz/`): each one is refused with the problem it has, naming the file.
#[test]
fn every_file_of_the_malformed_corpus_is_refused_with_its_problem() {
    use pretext::data::idx::read_idx;

    let expected = [
        ("absurd-dimensions.idx", "header claims dimensions [60000, 60000, 60000], more bytes than the file can hold"),
        ("absurd-dimensions.idx.gz", "more bytes than the file can hold"),
        ("bad-checksum.idx.gz", "corrupt gzip stream"),
        ("cut-short.idx.gz", "truncated"),
        ("empty.idx", "file is empty"),
        ("float-elements.idx", "IDX element type 0x0d is not supported"),
        ("html-error-page.idx", "not an IDX file (magic bytes [3c, 68, 74, 6d]"),
        ("labels-not-images.idx", "has 1 dimensions, expected 3"),
        ("trailing-bytes.idx", "trailing bytes after the 8-byte payload"),
        ("truncated-header.idx", "truncated: the file (or its gzip stream) ends early"),
        ("truncated-payload.idx", "truncated: header [2, 2, 2] needs 8 payload bytes, file holds 5"),
        ("zip-archive.idx", "not an IDX file (magic bytes [50, 4b, 03, 04]"),
    ];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed-idx");
    assert_eq!(common::files_in(&corpus), expected.map(|(name, _)| name), "every corpus file needs its expected error here");
    for (name, problem) in expected {
        let err = read_idx(&corpus.join(name), 3).unwrap_err().to_string();
        assert!(err.starts_with(&corpus.join(name).display().to_string()), "{name}: {err}");
        assert!(err.contains(problem), "{name}: {err}");
    }
}
